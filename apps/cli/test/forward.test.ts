// `mailyard forward`, and the tools that read a forwarder's configuration (`rules test`,
// `queue ls`), run in-process through the command dispatcher against real files and sockets.

import { writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { generateDkimKey } from '@mailyard/auth';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';

function io(signal: AbortSignal = new AbortController().signal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  return { io: { stdout, stderr, stdin, env: {}, signal }, out: () => out, err: () => err };
}

const CONFIG = `hostname: mx.forward.test
dataDir: data
listen: 127.0.0.1:0
domains: [forward.test]
srs:
  secrets: [a-secret-of-enough-length]
arc:
  domain: forward.test
  selector: arc
  key: arc.pem
dns:
  servers: [127.0.0.1:9]
rules:
  - recipient: hello@forward.test
    forward: [ann@inbox.test, bob@mail.test]
  - recipient: "*@forward.test"
    reject: { code: 550, enhanced: 5.1.1, text: No such alias }
admin:
  listen: 127.0.0.1:0
  token: cli-forwarder-token-0123456
log:
  level: silent
`;

async function configDir() {
  const dir = await openTempDir();
  writeFileSync(dir.join('forwarder.yaml'), CONFIG);
  writeFileSync(dir.join('arc.pem'), generateDkimKey({ type: 'rsa' }).privateKey);
  return dir;
}

describe('mailyard forward', () => {
  it('--check-config lists every problem with its line and exits 1', async () => {
    await using dir = await openTempDir();
    writeFileSync(
      dir.join('forwarder.yaml'),
      'domains: [forward.test]\nsrs:\n  secrets: [short]\ndmarc: sometimes\nrules:\n  - recipient: a@forward.test\n    deliver: true\n',
    );
    const run = io();
    expect(await main(['forward', '--config', dir.join('forwarder.yaml'), '--check-config'], run.io)).toBe(1);
    expect(run.err()).toMatch(/forwarder\.yaml:3:\d+: srs\.secrets\[0\]: must be at least 16 characters/);
    expect(run.err()).toMatch(/forwarder\.yaml:4:\d+: dmarc: must be reject, quarantine or ignore/);
    expect(run.err()).toMatch(/forwarder\.yaml:7:\d+: rules\[0\]\.deliver: the forwarder only forwards/);
  });

  it('--check-config loads the check modules and names a missing one by its line', async () => {
    await using dir = await configDir();
    writeFileSync(dir.join('forwarder.yaml'), `${CONFIG}checks:\n  - module: "@mailyard/check-nope"\n`);
    const bad = io();
    expect(await main(['forward', '--config', dir.join('forwarder.yaml'), '--check-config'], bad.io)).toBe(1);
    expect(bad.err()).toMatch(/forwarder\.yaml:\d+:\d+: checks\[0\].*@mailyard\/check-nope/);
    writeFileSync(
      dir.join('forwarder.yaml'),
      `${CONFIG}checks:\n  - module: "@mailyard/check-dnsbl"\n    options: { zones: [bl.test] }\n`,
    );
    const good = io();
    expect(await main(['forward', '--config', dir.join('forwarder.yaml'), '--check-config'], good.io)).toBe(
      0,
    );
    expect(good.out()).toMatch(/configuration OK/);
  });

  it('runs until the signal aborts; queue ls reads its queue', async () => {
    await using dir = await configDir();
    const controller = new AbortController();
    const run = io(controller.signal);
    const exit = main(['forward', '--config', dir.join('forwarder.yaml')], run.io);
    await expect.poll(() => run.out(), { timeout: 20_000 }).toMatch(/ready/);
    expect(run.out()).toMatch(/mx smtp:\/\/127\.0\.0\.1:\d+/);
    controller.abort();
    expect(await exit).toBe(0);
    const ls = io();
    expect(await main(['queue', 'ls', '--json', '--config', dir.join('forwarder.yaml')], ls.io)).toBe(0);
    expect(JSON.parse(ls.out())).toEqual([]);
  });
});

describe('mailyard rules test on a forwarder configuration', () => {
  it('explains the destinations, the subaddress fallback, SRS and ARC', async () => {
    await using dir = await configDir();
    const run = io();
    const code = await main(
      [
        'rules',
        'test',
        '--config',
        dir.join('forwarder.yaml'),
        '--from',
        'carol@sender.test',
        '--to',
        'hello+news@forward.test',
        '--to',
        'x@other.test',
      ],
      run.io,
    );
    expect(run.err()).toBe('');
    expect(code).toBe(0);
    const out = run.out();
    expect(out).toMatch(
      /hello\+news@forward\.test: no rule names this subaddress: routed as hello@forward\.test \(tag 'news' dropped\)/,
    );
    expect(out).toMatch(/ann@inbox\.test/);
    expect(out).toMatch(/x@other\.test: refused at RCPT \(550 5\.7\.1\)/);
    expect(out).toMatch(
      /SRS: envelope sender carol@sender\.test becomes SRS0=[^=]+=[^=]+=sender\.test=carol@forward\.test/,
    );
    expect(out).toMatch(/ARC: sealed as instance i=1 by d=forward\.test s=arc/);
  });
});
