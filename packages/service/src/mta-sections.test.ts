import { writeFileSync } from 'node:fs';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from './config-file.ts';
import { createConfigReader } from './config-reader.ts';
import { parseHostPort, readMtaSections } from './mta-sections.ts';

function read(text: string, file = '/etc/mailyard/mta.yaml', options = {}) {
  const r = createConfigReader(loadConfigFile(text, { file }));
  return { config: readMtaSections(r, { file, ...options }), problems: r.problems };
}

describe('readMtaSections', () => {
  it('gives the documented defaults for an empty file, with dataDir next to the file', () => {
    const { config, problems } = read('', '/etc/mailyard/mta.yaml', { defaultHostname: 'mx.example' });
    expect(problems).toEqual([]);
    expect(config).toEqual({
      hostname: 'mx.example',
      dataDir: '/etc/mailyard/data',
      queue: {
        url: null,
        schema: null,
        retry: null,
        lifetimeMs: null,
        delayNoticeMs: 4 * 3_600_000,
        maxMessageSize: 25 * 1024 * 1024,
      },
      dns: { servers: [], cacheTtlMs: 30_000 },
      tls: null,
      smarthosts: {},
      delivery: {
        port: 25,
        tls: 'opportunistic',
        concurrency: 20,
        perNextHop: 4,
        mtaSts: true,
        reuseIdleMs: 5000,
        leaseMs: 600_000,
        pollMs: 1000,
      },
      admin: null,
      log: { level: 'info' },
    });
  });

  it('reads every shared section', () => {
    const { config, problems } = read(
      [
        'queue: { url: "postgres://db/mail", schema: mail, retry: [1m, 1h], lifetime: 2d, delayNotice: 1h }',
        'dns: { servers: ["127.0.0.1:5353", "[::1]:53"] }',
        'smarthosts: { out: { host: smtp.example, port: 2525, username: u, password: p } }',
        'delivery: { tls: required, mtaSts: false, reuseIdle: 0 }',
        'admin: { listen: "[::1]:9000", token: 0123456789abcdef }',
        'log: { level: debug }',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(config.queue).toMatchObject({
      url: 'postgres://db/mail',
      schema: 'mail',
      retry: [60_000, 3_600_000],
    });
    expect(config.queue.lifetimeMs).toBe(2 * 86_400_000);
    expect(config.dns.servers).toEqual(['127.0.0.1:5353', '[::1]:53']);
    expect(config.smarthosts.out).toEqual({
      host: 'smtp.example',
      port: 2525,
      tls: 'starttls',
      username: 'u',
      password: 'p',
      verifyCertificate: true,
    });
    expect(config.delivery).toMatchObject({ tls: 'required', mtaSts: false, reuseIdleMs: 0 });
    expect(config.admin).toEqual({ host: '::1', port: 9000, token: '0123456789abcdef' });
    expect(config.log.level).toBe('debug');
  });

  it('reports every problem of the shared sections at once, each with its path and line', () => {
    const { problems } = read(
      [
        'queue: { url: "mysql://nope", retry: [5m, soon] }',
        'dns: { servers: [resolver.example] }',
        'smarthosts: { out: { tls: maybe } }',
        'delivery: { concurrency: 0, tls: sometimes }',
        'admin: { token: short }',
        'log: { level: loud }',
      ].join('\n'),
      'mta.yaml',
    );
    expect(problems).toEqual([
      expect.stringMatching(/^mta\.yaml:1:\d+: queue\.url: must be a postgres:\/\/ URL$/),
      expect.stringMatching(/^mta\.yaml:1:\d+: queue\.retry\[1\]: must be a duration/),
      expect.stringMatching(/^mta\.yaml:2:\d+: dns\.servers\[0\]: resolver\.example is not ip\[:port\]$/),
      expect.stringMatching(/^mta\.yaml:3:\d+: smarthosts\.out\.host: is required$/),
      expect.stringMatching(/^mta\.yaml:3:\d+: smarthosts\.out\.tls: must be starttls, implicit or none$/),
      expect.stringMatching(/^mta\.yaml:4:\d+: delivery\.tls: must be opportunistic, required or none$/),
      expect.stringMatching(/^mta\.yaml:4:\d+: delivery\.concurrency: must be an integer/),
      expect.stringMatching(/^mta\.yaml:5:\d+: admin\.token: must be at least 16 characters$/),
      expect.stringMatching(/^mta\.yaml:6:\d+: log\.level: must be one of/),
    ]);
  });

  it('reads the TLS files and the admin token file relative to the configuration file', async () => {
    await using dir = await openTempDir();
    writeFileSync(dir.join('cert.pem'), 'CERT');
    writeFileSync(dir.join('token'), 'abcdefghijklmnopqrstuvwxyz\n');
    const { config, problems } = read(
      'tls: { cert: cert.pem, key: key.pem }\nadmin: { tokenFile: token }\n',
      dir.join('mta.yaml'),
    );
    expect(problems).toEqual([
      expect.stringMatching(/mta\.yaml:1:\d+: tls\.key: cannot read key\.pem: ENOENT$/),
    ]);
    expect(config.tls).toBeNull();
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 8026, token: 'abcdefghijklmnopqrstuvwxyz' });
  });
});

describe('parseHostPort', () => {
  it('reads host:port and [ipv6]:port, and names what is wrong otherwise', () => {
    expect(parseHostPort('127.0.0.1:25')).toEqual({ host: '127.0.0.1', port: 25 });
    expect(parseHostPort('[::1]:587')).toEqual({ host: '::1', port: 587 });
    expect(parseHostPort('localhost')).toBe('localhost is not host:port');
    expect(parseHostPort('a:70000')).toBe('a:70000 is not host:port');
  });
});
