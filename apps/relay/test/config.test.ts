// The configuration: every problem at once, each with its path and its line (or the environment
// variable that set it); MAILYARD_* overrides; the annotated example file is valid.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfigFile } from '@mailyard/service';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { parseRelayConfig, readRelayConfig } from '../src/relay-config.ts';
import { CLI_MAIN, writeRelayFiles } from './helpers.ts';

function problems(text: string, env: NodeJS.ProcessEnv = {}, file = '/nonexistent/relay.yaml'): string[] {
  try {
    parseRelayConfig(text, { file, env });
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('relay configuration', () => {
  it('reports every problem at once, each with its path and line', () => {
    const found = problems(
      [
        'hostname: relay.example.org',
        'queue:',
        '  url: mysql://nope',
        '  retry: [5m, soon]',
        'listeners:',
        '  trusted:',
        '    listen: 127.0.0.1:2525',
        '    networks: [10.0.0.0/33]',
        'delivery:',
        '  concurrency: -1',
        'bogus: 1',
      ].join('\n'),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/relay\.yaml:3:\d+: queue\.url: must be a postgres:\/\/ URL/),
        expect.stringMatching(/relay\.yaml:4:\d+: queue\.retry\[1\]: must be a duration/),
        expect.stringMatching(/relay\.yaml:8:\d+: listeners\.trusted\.networks\[0\]: .*prefix/),
        expect.stringMatching(/relay\.yaml:10:\d+: delivery\.concurrency: must be an integer/),
        expect.stringMatching(/relay\.yaml:11:\d+: bogus: unknown key/),
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('reports a YAML syntax error with its line', () => {
    expect(problems('hostname: [unclosed\nqueue: {}\n')).toEqual([
      expect.stringMatching(/relay\.yaml:\d+:\d+: /),
    ]);
  });

  it('requires TLS and a users file for submission listeners', () => {
    const found = problems('listeners:\n  submission:\n    listen: 127.0.0.1:587\n');
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/: tls: submission listeners need a certificate/),
        expect.stringMatching(/users\.file: is required/),
      ]),
    );
  });

  it('requires at least one listener', () => {
    expect(problems('hostname: x.example\n')).toEqual([expect.stringMatching(/listeners: at least one/)]);
  });

  it('reports files that cannot be read with the key that names them', () => {
    const found = problems(
      'listeners:\n  trusted:\n    listen: 127.0.0.1:25\ndkim:\n  - domain: example.org\n    selector: s1\n    key: missing.pem\n',
    );
    expect(found).toEqual([
      expect.stringMatching(/relay\.yaml:7:\d+: dkim\[0\]\.key: cannot read missing\.pem: ENOENT/),
    ]);
  });

  it('takes MAILYARD_* environment overrides over the file, naming the variable in problems', () => {
    const text = 'listeners:\n  trusted:\n    listen: 127.0.0.1:25\nqueue:\n  url: postgres://file/db\n';
    const config = parseRelayConfig(text, {
      file: '/x/relay.yaml',
      env: {
        MAILYARD_QUEUE__URL: 'postgres://env/db',
        MAILYARD_DNS__SERVERS: '[127.0.0.1:5353, 10.0.0.1]',
        MAILYARD_DATA_DIR: '/var/lib/relay',
      },
    });
    expect(config.queue.url).toBe('postgres://env/db');
    expect(config.dns.servers).toEqual(['127.0.0.1:5353', '10.0.0.1']);
    expect(config.dataDir).toBe('/var/lib/relay');
    expect(problems(text, { MAILYARD_DELIVERY__PORT: 'seventy' })).toEqual([
      'MAILYARD_DELIVERY__PORT: delivery.port: must be an integer from 1 to 65535',
    ]);
  });

  it('leaves MAILYARD_* variables of other programs alone', () => {
    expect(
      problems('listeners:\n  trusted:\n    listen: 127.0.0.1:25\n', {
        MAILYARD_TEST_PG_URL: 'x',
        MAILYARD_LISTEN: 'y',
      }),
    ).toEqual([]);
  });

  it('reports rules problems with the rules file line', async () => {
    await using dir = await openTempDir();
    writeFileSync(dir.join('rules.yaml'), 'rules:\n  - recipient: "*"\n    relay: nowhere\n');
    writeFileSync(
      dir.join('relay.yaml'),
      'listeners:\n  trusted:\n    listen: 127.0.0.1:25\nrules: rules.yaml\n',
    );
    expect(() => readRelayConfig(dir.join('relay.yaml'))).toThrow(/rules\.yaml:3:\d+: error: .*nowhere/);
  });

  it('refuses forward and webhook rule actions in --check-config with their file and line', async () => {
    await using dir = await openTempDir();
    writeFileSync(
      dir.join('rules.yaml'),
      'rules:\n  - recipient: "*@hook.example"\n    webhook: intake\n  - recipient: "*"\n    deliver: true\n',
    );
    writeFileSync(
      dir.join('inline.yaml'),
      'listeners:\n  trusted:\n    listen: 127.0.0.1:25\nrules:\n  - recipient: "*@old.example"\n    forward: [new@example.net]\n  - recipient: "*"\n    deliver: true\n',
    );
    writeFileSync(
      dir.join('file.yaml'),
      'listeners:\n  trusted:\n    listen: 127.0.0.1:25\nrules: rules.yaml\n',
    );
    const check = (config: string) =>
      spawnSync(
        process.execPath,
        ['--conditions=source', CLI_MAIN, 'relay', '--config', config, '--check-config'],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
    const inline = check(dir.join('inline.yaml'));
    expect(inline.status).toBe(1);
    expect(inline.stderr).toMatch(
      /inline\.yaml:6:\d+: rules\[0\]\.forward: forward\/webhook actions are for the forwarder/,
    );
    const file = check(dir.join('file.yaml'));
    expect(file.status).toBe(1);
    expect(file.stderr).toMatch(
      /rules\.yaml:3:\d+: rules\[0\]\.webhook: forward\/webhook actions are for the forwarder/,
    );
  });

  it('accepts the generated test configuration', async () => {
    const files = await writeRelayFiles();
    try {
      const config = readRelayConfig(files.configPath);
      expect(config.dkim.map((k) => k.selector)).toEqual(['ed', 'rsa']);
      expect(config.listeners.trusted?.networks).toEqual(['127.0.0.0/8']);
      expect(config.queue.delayNoticeMs).toBe(4 * 3_600_000);
    } finally {
      await files.dir[Symbol.asyncDispose]();
    }
  });

  it('accepts the annotated example configuration once the files it names exist', async () => {
    const example = resolve(dirname(fileURLToPath(import.meta.url)), '../relay.example.yaml');
    await using dir = await openTempDir();
    const files = await writeRelayFiles();
    try {
      copyFileSync(example, dir.join('relay.yaml'));
      mkdirSync(dir.join('keys'));
      for (const [from, to] of [
        ['cert.pem', 'tls/cert.pem'],
        ['key.pem', 'tls/key.pem'],
        ['dkim-ed.pem', 'keys/example.org.ed25519.pem'],
        ['dkim-rsa.pem', 'keys/example.org.rsa.pem'],
        ['users.txt', 'users.txt'],
      ] as const) {
        mkdirSync(dirname(dir.join(to)), { recursive: true });
        copyFileSync(files.dir.join(from), dir.join(to));
      }
      writeFileSync(dir.join('admin.token'), 'an-admin-token-of-enough-length\n');
      const config = readRelayConfig(join(dir.path, 'relay.yaml'), {});
      expect(config.listeners.submission?.port).toBe(587);
    } finally {
      await files.dir[Symbol.asyncDispose]();
    }
  });
});

describe('loadConfigFile', () => {
  it('points a path at its line and column', () => {
    const source = loadConfigFile('a:\n  b:\n    - x\n    - y\n', { file: 'f.yaml' });
    expect(source.where(['a', 'b', 1])).toBe('f.yaml:4:7');
  });
});
