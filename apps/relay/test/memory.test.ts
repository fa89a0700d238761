// Memory while relaying one 50 MB message end to end (the target: peak RSS within 64 MB
// above idle). The relay runs in a child process with --expose-gc, collected once idle; its RSS
// is read from /proc every 20 ms while a client streams the message in over SMTP and the relay
// signs it (DKIM) and delivers it to a loopback peer.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendRaw, startDns } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { writeRelayFiles } from './helpers.ts';

const here = dirname(fileURLToPath(import.meta.url));
const MB = 1024 * 1024;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

/** Header, then `size` octets of 76-character lines, produced as it is sent. */
async function* bigMessage(size: number): AsyncGenerator<string> {
  yield 'EHLO c.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n';
  yield 'From: Alice <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: big\r\n\r\n';
  const line = `${'0123456789'.repeat(7)}abcdef\r\n`;
  const block = line.repeat(Math.floor((64 * 1024) / line.length));
  for (let sent = 0; sent < size; sent += block.length) yield block;
  yield '.\r\nQUIT\r\n';
}

/**
 * The next hop: an SMTP server that counts the message octets and keeps none of them (the
 * testkit peer keeps every byte, and concatenates as it goes: too slow for 50 MB).
 */
async function startCountingSink(): Promise<{ port: number; received: Promise<number>; close(): void }> {
  let done: (size: number) => void = () => {};
  const received = new Promise<number>((resolve) => (done = resolve));
  const server = createServer((socket) => {
    let inData = false;
    let size = 0;
    let tail = '';
    socket.write('220 sink.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (inData) {
        size += chunk.length;
        tail = (tail + chunk.subarray(-5).toString('latin1')).slice(-5);
        if (tail === '\r\n.\r\n') {
          inData = false;
          socket.write('250 2.0.0 Ok: counted\r\n');
          done(size);
        }
        return;
      }
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO')
          socket.write('250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 209715200\r\n');
        else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 2.0.0 Bye\r\n');
        else socket.write('250 2.0.0 Ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, received, close: () => server.close() };
}

describe('memory', () => {
  it('relays one 50 MB message with peak RSS within 64 MB above idle', { timeout: 300_000 }, async () => {
    await using dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'mx.test': { A: ['127.0.0.1'] },
    });
    const mx = await startCountingSink();
    const files = await writeRelayFiles({
      dns: { servers: [dns.address] },
      delivery: { port: mx.port, poll: '100ms', tls: 'none' },
      queue: { maxMessageSize: 100 * MB },
      listeners: { submission: null, submissions: null },
      log: { level: 'warn' },
    });
    await using _dir = files.dir;
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--conditions=source', resolve(here, 'fixtures/memory-relay.ts'), files.configPath],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      const port = await new Promise<number>((ready, fail) => {
        const timer = setTimeout(() => fail(new Error(`relay did not start:\n${output}`)), 60_000);
        child.stdout.on('data', () => {
          const found = /ready (\d+)/.exec(output);
          if (found) {
            clearTimeout(timer);
            ready(Number(found[1]));
          }
        });
        child.once('exit', (code) => fail(new Error(`relay exited with ${code}:\n${output}`)));
      });
      const pid = child.pid ?? expect.fail('no pid');
      const idle = rssOf(pid);
      let peak = idle;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssOf(pid));
      }, 20);
      try {
        const reply = await sendRaw('127.0.0.1', port, bigMessage(50 * MB), {
          until: /^221 /m,
          timeoutMs: 120_000,
        });
        expect(reply).toMatch(/^250 .*queued as/m);
        const received = await mx.received;
        expect(received).toBeGreaterThan(50 * MB);
      } finally {
        clearInterval(sampler);
      }
      const growth = (peak - idle) / MB;
      console.log(
        `50 MB relayed: idle RSS ${(idle / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${growth.toFixed(1)} MB (target <= 64)`,
      );
      expect(growth).toBeLessThanOrEqual(64);
    } finally {
      mx.close();
      child.kill('SIGTERM');
      await new Promise((done) => (child.exitCode === null ? child.once('exit', done) : done(null)));
    }
  });
});
