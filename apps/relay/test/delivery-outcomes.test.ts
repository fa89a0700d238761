// Delivery outcomes through the real queue, courier and a scripted peer: retries after 4xx,
// exactly one DSN (RFC 3464) to the sender after a 5xx and no retry, no DSN for the null sender
// (RFC 5321 §4.5.5), one "delayed" DSN after the configured delay (RFC 3461 NOTIFY=DELAY).

import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DnsServer,
  describeWithPostgres,
  type PeerRule,
  type SmtpPeer,
  startDns,
  startPeer,
} from '@mailyard/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inject, startTestRelay, type TestRelay, testMessage } from './helpers.ts';

let dns: DnsServer;
let peer: SmtpPeer | undefined;
let relay: TestRelay | undefined;

beforeEach(async () => {
  dns = await startDns({
    'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
    'example.org': { MX: [{ priority: 10, exchange: 'mx.test' }] },
    'mx.test': { A: ['127.0.0.1'] },
  });
});
afterEach(async () => {
  await relay?.[Symbol.asyncDispose]();
  await peer?.close();
  await dns.close();
  relay = undefined;
  peer = undefined;
});

async function start(
  rcpt: PeerRule,
  queue: Record<string, unknown> = {},
): Promise<{ peer: SmtpPeer; relay: TestRelay }> {
  peer = await startPeer({ rcpt });
  relay = await startTestRelay({
    dns: { servers: [dns.address] },
    delivery: { port: peer.port },
    queue: { retry: ['300ms'], ...queue },
  });
  return { peer, relay };
}

const toBob = (line: string): boolean => /bob@example\.net/i.test(line);

describe('delivery outcomes', () => {
  it('delivers all recipients at one next hop in one transaction', async () => {
    const { peer, relay } = await start(() => undefined);
    await inject(relay, testMessage('shared'), 'alice@example.org', [
      'bob@example.net',
      'carol@example.net',
      'dan@example.net',
    ]);
    await peer.waitForTransactions(1, 30_000);
    await sleep(500);
    expect(peer.transactions).toHaveLength(1);
    expect(peer.transactions[0]?.accepted).toHaveLength(3);
  });

  it('retries after 451 twice and delivers exactly once on the third attempt', async () => {
    let bobAttempts = 0;
    const { peer, relay } = await start((command) => {
      if (!toBob(command.line)) return undefined;
      bobAttempts++;
      return bobAttempts <= 2 ? '451 4.3.0 try again' : undefined;
    });
    const queueId = await inject(relay, testMessage('retry twice'), 'alice@example.org', ['bob@example.net']);
    await expect
      .poll(async () => (await relay.relay.queue.show(queueId))?.recipients[0]?.state, {
        timeout: 30_000,
        interval: 200,
      })
      .toBe('delivered');
    await sleep(1000);
    expect(bobAttempts).toBe(3);
    expect(peer.transactions.filter((t) => t.dataReply?.startsWith('250'))).toHaveLength(1);
  });

  it('sends one DSN to the sender after a 550 and never retries', async () => {
    let bobAttempts = 0;
    const { peer, relay } = await start((command) => {
      if (!toBob(command.line)) return undefined;
      bobAttempts++;
      return '550 5.1.1 no such user';
    });
    const queueId = await inject(relay, testMessage('bounce me'), 'alice@example.org', ['bob@example.net']);
    await expect
      .poll(() => peer.transactions.filter((t) => t.ended).length, { timeout: 30_000, interval: 200 })
      .toBe(1);
    const dsn = peer.transactions.find((t) => t.ended);
    expect(dsn?.mailFrom).toMatch(/FROM:\s*<>/i);
    expect(dsn?.accepted).toEqual([expect.stringMatching(/<alice@example\.org>/)]);
    const content = dsn?.content?.toString() ?? '';
    expect(content).toMatch(/multipart\/report; report-type=delivery-status/i);
    expect(content).toMatch(/Action: failed/);
    expect(content).toMatch(/Status: 5\.1\.1/);
    expect((await relay.relay.queue.show(queueId))?.recipients[0]?.state).toBe('bounced');
    await sleep(1500);
    expect(bobAttempts).toBe(1);
    expect(peer.transactions.filter((t) => t.ended)).toHaveLength(1);
  });

  it('drops a failed message from the null sender instead of bouncing it', async () => {
    const { peer, relay } = await start((command) =>
      toBob(command.line) ? '550 5.1.1 no such user' : undefined,
    );
    const queueId = await inject(relay, testMessage('null sender'), '', ['bob@example.net']);
    await expect
      .poll(async () => (await relay.relay.queue.show(queueId))?.recipients[0]?.state, {
        timeout: 30_000,
        interval: 200,
      })
      .toBe('bounced');
    await sleep(1500);
    expect(peer.transactions.filter((t) => t.ended)).toHaveLength(0);
    const queued = await relay.relay.queue.list({ limit: 10 });
    expect(queued.map((m) => m.queueId)).toEqual([queueId]);
  });

  it('sends one "delayed" DSN once the message has waited the configured delay, and only one', async () => {
    const { peer, relay } = await start(
      (command) => (toBob(command.line) ? '451 4.2.1 mailbox busy' : undefined),
      {
        delayNotice: '1s',
      },
    );
    await inject(relay, testMessage('delay me'), 'alice@example.org', ['bob@example.net']);
    await expect
      .poll(() => peer.transactions.filter((t) => t.ended).length, { timeout: 30_000, interval: 200 })
      .toBe(1);
    const content = peer.transactions.find((t) => t.ended)?.content?.toString() ?? '';
    expect(content).toMatch(/Action: delayed/);
    expect(content).toMatch(/Status: 4\.2\.1/);
    // Several more scans (every second) pass: still one notice.
    await sleep(3500);
    expect(peer.transactions.filter((t) => t.ended)).toHaveLength(1);
  });
});

describeWithPostgres('delayed DSN with a shared PostgreSQL queue', (db) => {
  it('sends one "delayed" DSN per message even with two relays scanning the queue', async () => {
    peer = await startPeer({
      rcpt: (command) => (toBob(command.line) ? '451 4.2.1 mailbox busy' : undefined),
    });
    const config = {
      dns: { servers: [dns.address] },
      delivery: { port: peer.port },
      queue: { retry: ['300ms'], delayNotice: '1s', url: db().url, schema: db().schema },
    };
    relay = await startTestRelay(config);
    await using second = await startTestRelay(config);
    await inject(second, testMessage('delay shared'), 'alice@example.org', ['bob@example.net']);
    const notices = (): number =>
      peer?.transactions.filter((t) => t.ended && /FROM:\s*<>/i.test(t.mailFrom)).length ?? 0;
    await expect.poll(notices, { timeout: 30_000, interval: 200 }).toBe(1);
    await sleep(3500);
    expect(notices()).toBe(1);
  });
});
