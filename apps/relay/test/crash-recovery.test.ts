// Durability: the relay runs as its own process (`mailyard relay --config`); it is SIGKILLed while
// clients submit and deliveries run; after a restart every message that got a 250 is delivered.
// With PostgreSQL: two relay processes share one queue, one is killed mid-run, nothing is lost.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { type DnsServer, describeWithPostgres, type SmtpPeer, startDns, startPeer } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnRelay, testMessage, writeRelayFiles } from './helpers.ts';

let dns: DnsServer;
let peer: SmtpPeer;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dns = await startDns({
    'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
    'mx.test': { A: ['127.0.0.1'] },
  });
  // A slightly slow MX, so that deliveries are under way when the relay is killed.
  peer = await startPeer({ dataEnd: { delayMs: 20, reply: '250 2.0.0 ok' } });
});
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await peer.close();
  await dns.close();
});

async function kill(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Submits `subject-N` messages from `senders` parallel clients until `stop()` is true; records those answered 250. */
async function submit(
  ports: () => number[],
  prefix: string,
  accepted: Set<string>,
  stop: () => boolean,
  senders = 6,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async (_, lane) => {
      while (!stop()) {
        const list = ports();
        const port = list[lane % list.length] as number;
        const subject = `${prefix}-${next++}`;
        try {
          const info = await createTransport({
            host: '127.0.0.1',
            port,
            secure: false,
            tls: { rejectUnauthorized: false },
            connectionTimeout: 5000,
            greetingTimeout: 5000,
            socketTimeout: 5000,
          }).sendMail({
            envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
            raw: testMessage(subject),
          });
          if (/^250 /.test(info.response)) accepted.add(subject);
        } catch {
          // The relay was killed mid-transaction: no 250, so no promise was made.
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }),
  );
}

function delivered(): Set<string> {
  const subjects = new Set<string>();
  for (const t of peer.transactions) {
    // The peer answers every end of data with 250 (after a short delay).
    if (!t.ended) continue;
    const subject = /^Subject: (\S+)/m.exec(t.content?.toString() ?? '')?.[1];
    if (subject) subjects.add(subject);
  }
  return subjects;
}

describe('SIGKILL under load', () => {
  it('delivers every message that got a 250 after a restart', { timeout: 240_000 }, async () => {
    const files = await writeRelayFiles({
      dns: { servers: [dns.address] },
      delivery: { port: peer.port, lease: '3s' },
    });
    try {
      const first = await spawnRelay(files.configPath);
      children.push(first.child);
      const accepted = new Set<string>();
      let killed = false;
      const load = submit(
        () => [first.listeners.trusted as number],
        'crash',
        accepted,
        () => killed,
      );
      await expect.poll(() => accepted.size, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(60);
      await kill(first.child);
      killed = true;
      await load;
      const second = await spawnRelay(files.configPath);
      children.push(second.child);
      await expect
        .poll(() => [...accepted].filter((s) => !delivered().has(s)).length, {
          timeout: 60_000,
          interval: 500,
        })
        .toBe(0);
      expect(accepted.size).toBeGreaterThanOrEqual(60);
      await kill(second.child);
    } finally {
      await files.dir[Symbol.asyncDispose]();
    }
  });
});

describeWithPostgres('two relays on one PostgreSQL queue', (db) => {
  it('loses nothing when one of them is killed mid-run', { timeout: 240_000 }, async () => {
    const files = await writeRelayFiles({
      dns: { servers: [dns.address] },
      delivery: { port: peer.port, lease: '3s' },
      queue: { url: db().url, schema: db().schema },
    });
    try {
      const a = await spawnRelay(files.configPath);
      const b = await spawnRelay(files.configPath);
      children.push(a.child, b.child);
      const accepted = new Set<string>();
      let aAlive = true;
      let done = false;
      const ports = (): number[] =>
        aAlive
          ? [a.listeners.trusted as number, b.listeners.trusted as number]
          : [b.listeners.trusted as number];
      const load = submit(ports, 'pg', accepted, () => done);
      await expect.poll(() => accepted.size, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(40);
      await kill(a.child);
      aAlive = false;
      const atKill = accepted.size;
      await expect
        .poll(() => accepted.size, { timeout: 60_000, interval: 50 })
        .toBeGreaterThanOrEqual(atKill + 20);
      done = true;
      await load;
      await expect
        .poll(() => [...accepted].filter((s) => !delivered().has(s)).length, {
          timeout: 60_000,
          interval: 500,
        })
        .toBe(0);
      await kill(b.child);
    } finally {
      await files.dir[Symbol.asyncDispose]();
    }
  });
});
