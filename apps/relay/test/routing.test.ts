// Rules choose what happens to each recipient: its MX (default), a named smarthost, reject at
// RCPT time, or hold in the queue. Also: a failed queue commit answers 451, never 250.

import { type SmtpPeer, sendRaw, startDns, startPeer } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { inject, startTestRelay, testMessage } from './helpers.ts';

function replyLines(text: string): string[] {
  return text.split('\r\n').filter((line) => /^\d{3} /.test(line));
}

describe('routing by rules', () => {
  it('sends a domain through its named smarthost and others to their MX', async () => {
    await using dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'mx.test': { A: ['127.0.0.1'] },
    });
    await using mx = await startPeer({ name: 'mx.test' });
    await using smarthost = await startPeer({ name: 'smarthost.test' });
    await using relay = await startTestRelay({
      dns: { servers: [dns.address] },
      delivery: { port: mx.port },
      smarthosts: { partner: { host: '127.0.0.1', port: smarthost.port, tls: 'none' } },
      rules: [
        { recipient: '*@partner.example', relay: 'partner' },
        { recipient: '*', deliver: true },
      ],
    });
    await inject(relay, testMessage('routed'), 'alice@example.org', [
      'bob@partner.example',
      'bob@example.net',
    ]);
    await smarthost.waitForTransactions(1, 30_000);
    await mx.waitForTransactions(1, 30_000);
    expect(smarthost.transactions[0]?.accepted).toEqual([expect.stringMatching(/bob@partner\.example/)]);
    expect(mx.transactions[0]?.accepted).toEqual([expect.stringMatching(/bob@example\.net/)]);
  });

  it('refuses a recipient at RCPT time with the reject rule reply', async () => {
    await using relay = await startTestRelay({
      dns: { servers: ['127.0.0.1:9'] },
      rules: [
        { recipient: '*@old.example', reject: { code: 550, enhanced: '5.1.2', text: 'gone' } },
        { recipient: '*', deliver: true },
      ],
    });
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('trusted'),
      'EHLO c.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<x@old.example>\r\nRCPT TO:<x@example.net>\r\nQUIT\r\n',
      { until: /^221 /m },
    );
    const lines = replyLines(text);
    expect(lines[3]).toMatch(/^550 5\.1\.2 /);
    expect(lines[4]).toMatch(/^250 /);
  });

  it('holds a recipient a hold rule matches until it is released', async () => {
    await using relay = await startTestRelay({
      dns: { servers: ['127.0.0.1:9'] },
      rules: [
        { recipient: '*@press.example', hold: 'review' },
        { recipient: '*', deliver: true },
      ],
    });
    const queueId = await inject(relay, testMessage('held'), 'alice@example.org', [
      'ed@press.example',
      'bob@example.net',
    ]);
    const shown = await relay.relay.queue.show(queueId);
    const states = Object.fromEntries(shown?.recipients.map((r) => [r.rcpt, r.state]) ?? []);
    expect(states['ed@press.example']).toBe('held');
    expect(states['bob@example.net']).not.toBe('held');
  });
});

describe('hold rules', () => {
  it('never delivers a recipient held by a rule until it is released, then delivers it once', async () => {
    await using dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'press.example': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'mx.test': { A: ['127.0.0.1'] },
    });
    await using mx = await startPeer({ name: 'mx.test' });
    await using relay = await startTestRelay({
      dns: { servers: [dns.address] },
      delivery: { port: mx.port, poll: '20ms' },
      rules: [
        { recipient: '*@press.example', hold: 'review' },
        { recipient: '*', deliver: true },
      ],
    });
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('trusted'),
      `EHLO c.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<ed@press.example>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n${testMessage('held')}.\r\nQUIT\r\n`,
      { until: /^221 /m },
    );
    const queueId = /queued as (\w+)/.exec(text)?.[1] ?? expect.fail(`not queued:\n${text}`);
    const deliveredTo = () =>
      mx.transactions.flatMap((t) => t.accepted).filter((rcpt) => /ed@press\.example/.test(rcpt));
    // The free recipient arrives: the worker ran many polls while the held one stayed put.
    await mx.waitForTransactions(1, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(deliveredTo()).toEqual([]);
    const shown = await relay.relay.queue.show(queueId);
    const held = shown?.recipients.find((r) => r.rcpt === 'ed@press.example');
    expect([held?.state, held?.attempts, held?.lastReply]).toEqual(['held', 0, 'held by rule: review']);
    const released = await relay.admin(`/api/queue/${queueId}/release`, { method: 'POST' });
    expect(released.status).toBe(200);
    await expect.poll(() => deliveredTo().length, { timeout: 30_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(deliveredTo()).toHaveLength(1);
    expect((await relay.relay.queue.show(queueId))?.recipients.map((r) => r.state)).toEqual([
      'delivered',
      'delivered',
    ]);
  });
});

describe('header rules after DATA', () => {
  it('refuses the message when a header rule rejects a recipient, and queues nothing', async () => {
    await using relay = await startTestRelay({
      dns: { servers: ['127.0.0.1:9'] },
      rules: [
        {
          recipient: '*',
          headers: [{ name: 'Subject', contains: 'forbidden' }],
          reject: { code: 550, enhanced: '5.7.1', text: 'content refused' },
        },
        { recipient: '*', deliver: true },
      ],
    });
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('trusted'),
      `EHLO c.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n${testMessage('forbidden words')}.\r\nQUIT\r\n`,
      { until: /^221 /m },
    );
    expect(replyLines(text)[5]).toMatch(/^550 5\.7\.1 /);
    expect(await relay.relay.queue.list()).toEqual([]);
  });
});

describe('commit failure', () => {
  it('answers 451 after DATA when the queue cannot commit, and never 250', async () => {
    await using relay = await startTestRelay({ dns: { servers: ['127.0.0.1:9'] } });
    await relay.relay.queue.close();
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('trusted'),
      `EHLO c.test\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n${testMessage('lost')}.\r\nQUIT\r\n`,
      { until: /^221 /m },
    );
    const lines = replyLines(text);
    expect(lines[5]).toMatch(/^451 4\.3\.\d /);
    expect(text).not.toMatch(/queued as/);
  });
});

describe('graceful shutdown', () => {
  it('lets a delivery under way finish before the relay closes', async () => {
    await using dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'mx.test': { A: ['127.0.0.1'] },
    });
    const peer: SmtpPeer = await startPeer({ dataEnd: { delayMs: 1500, reply: '250 2.0.0 ok' } });
    try {
      const relay = await startTestRelay({ dns: { servers: [dns.address] }, delivery: { port: peer.port } });
      const queueId = await inject(relay, testMessage('slow'), 'alice@example.org', ['bob@example.net']);
      await expect.poll(() => peer.sessions.length, { timeout: 20_000 }).toBeGreaterThan(0);
      await relay.relay.delivery.stop();
      expect((await relay.relay.queue.show(queueId))?.recipients[0]?.state).toBe('delivered');
      await relay[Symbol.asyncDispose]();
    } finally {
      await peer.close();
    }
  });
});
