// `mailyard relay`, `mailyard queue` and `mailyard check domain`, run in-process through the
// command dispatcher against real files, sockets and a loopback DNS server.

import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { openTempDir, startDns } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';

const TOKEN = 'cli-test-admin-token-123456';

function io(signal: AbortSignal = new AbortController().signal, stdinText = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end(stdinText);
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  return { io: { stdout, stderr, stdin, env: {}, signal }, out: () => out, err: () => err };
}

const CONFIG = `hostname: relay.test
dataDir: data
dns:
  servers: [127.0.0.1:9]
listeners:
  trusted:
    listen: 127.0.0.1:0
    networks: [127.0.0.0/8]
admin:
  listen: 127.0.0.1:0
  token: ${TOKEN}
log:
  level: silent
`;

describe('mailyard relay', () => {
  it('--check-config lists every problem with its line and exits 1', async () => {
    await using dir = await openTempDir();
    writeFileSync(dir.join('relay.yaml'), 'queue:\n  url: nope\ndelivery:\n  port: 0\n');
    const run = io();
    expect(await main(['relay', '--config', dir.join('relay.yaml'), '--check-config'], run.io)).toBe(1);
    expect(run.err()).toMatch(/relay\.yaml:2:\d+: queue\.url: /);
    expect(run.err()).toMatch(/relay\.yaml:4:\d+: delivery\.port: /);
    expect(run.err()).toMatch(/listeners: at least one/);
  });

  it('--check-config exits 0 for a valid configuration', async () => {
    await using dir = await openTempDir();
    writeFileSync(dir.join('relay.yaml'), CONFIG);
    const run = io();
    expect(await main(['relay', '--config', dir.join('relay.yaml'), '--check-config'], run.io)).toBe(0);
    expect(run.out()).toMatch(/configuration OK/);
  });

  it('adduser writes a scrypt hash of the password read from stdin', async () => {
    await using dir = await openTempDir();
    const run = io(undefined, 'a long password\n');
    expect(await main(['relay', 'adduser', '--users', dir.join('users.txt'), 'alice'], run.io)).toBe(0);
    expect(readFileSync(dir.join('users.txt'), 'utf8')).toMatch(/^alice:\$scrypt\$/);
  });

  it('runs until the signal aborts, then the queue commands operate on its data dir', async () => {
    await using dir = await openTempDir();
    writeFileSync(dir.join('relay.yaml'), CONFIG);
    const controller = new AbortController();
    const relayRun = io(controller.signal);
    const exit = main(['relay', '--config', dir.join('relay.yaml')], relayRun.io);
    await expect.poll(() => relayRun.out(), { timeout: 20_000 }).toMatch(/ready/);
    const admin = /admin (http:\/\/\S+)/.exec(relayRun.out())?.[1];
    const response = await fetch(`${admin}/api/messages?from=a@example.org&to=b@example.net`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'From: a@example.org\r\nSubject: cli\r\n\r\nhi\r\n',
    });
    const { queueId } = (await response.json()) as { queueId: string };
    controller.abort();
    expect(await exit).toBe(0);
    expect(relayRun.out()).toMatch(/stopped/);

    const config = dir.join('relay.yaml');
    const ls = io();
    expect(await main(['queue', 'ls', '--config', config], ls.io)).toBe(0);
    expect(ls.out()).toContain(queueId);
    expect(ls.out()).toContain('b@example.net');
    const hold = io();
    expect(await main(['queue', 'hold', queueId, '--config', config], hold.io)).toBe(0);
    expect(hold.out()).toMatch(/hold: 1 recipient/);
    const show = io();
    expect(await main(['queue', 'show', queueId, '--config', config], show.io)).toBe(0);
    expect(JSON.parse(show.out()).recipients[0].state).toBe('held');
    const del = io();
    expect(await main(['queue', 'delete', queueId, '--config', config], del.io)).toBe(0);
    const missing = io();
    expect(await main(['queue', 'show', queueId, '--config', config], missing.io)).toBe(1);
  });
});

describe('mailyard check domain', () => {
  it('prints the pre-flight report and exits 1 when checks fail', async () => {
    await using dns = await startDns({
      'example.org': {
        TXT: ['v=spf1 ip4:192.0.2.10 -all'],
        MX: [{ priority: 10, exchange: 'mx.example.org' }],
      },
    });
    const run = io();
    const exit = await main(
      [
        'check',
        'domain',
        'example.org',
        '--relay-ip',
        '192.0.2.10',
        '--selector',
        's1',
        '--dns-server',
        dns.address,
      ],
      run.io,
    );
    expect(exit).toBe(1);
    expect(run.out()).toMatch(/^example\.org: problems found/);
    expect(run.out()).toMatch(/ok {3}spf/);
    expect(run.out()).toMatch(/(FAIL|ERR) {1,2}dkim s1/);
  });
});
