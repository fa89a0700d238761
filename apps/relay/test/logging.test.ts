// Logs: pino JSON lines with STYLE.md's field names, one per state change; never passwords or bodies.

import { PassThrough } from 'node:stream';
import { createLogger } from '@mailyard/service';
import { type DnsServer, type SmtpPeer, startDns, startPeer } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startTestRelay, type TestRelay, testMessage } from './helpers.ts';

describe('relay logs', () => {
  let dns: DnsServer;
  let peer: SmtpPeer;
  let relay: TestRelay;
  const lines: Record<string, unknown>[] = [];
  let text = '';
  beforeAll(async () => {
    dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.test' }] },
      'mx.test': { A: ['127.0.0.1'] },
    });
    peer = await startPeer();
    const stream = new PassThrough();
    stream.on('data', (chunk) => {
      text += chunk;
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    relay = await startTestRelay(
      { dns: { servers: [dns.address] }, delivery: { port: peer.port, reuseIdle: '5s' } },
      createLogger({ app: 'relay', level: 'info', destination: stream }),
    );
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
    await peer?.close();
    await dns?.close();
  });

  const transport = (pass: string) =>
    createTransport({
      host: '127.0.0.1',
      port: relay.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice', pass },
    });

  it('logs a failed AUTH with the client address and reply code, never the password', async () => {
    await transport('a wrong secret')
      .verify()
      .catch(() => undefined);
    await expect
      .poll(() => lines.find((l) => l.msg === 'auth failed'), { timeout: 10_000 })
      .toMatchObject({
        remoteAddr: '127.0.0.1',
        smtpCode: 535,
        enhanced: '5.7.8',
      });
    expect(text).not.toContain('a wrong secret');
  });

  it('logs queued and delivered with the queue id, and never the body', async () => {
    const info = await transport(PASSWORD).sendMail({
      envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
      raw: testMessage('logged body secret'),
    });
    const queueId = /queued as (\S+)/.exec(info.response)?.[1];
    await expect
      .poll(() => lines.find((l) => l.msg === 'delivered' && l.queueId === queueId), { timeout: 20_000 })
      .toMatchObject({ rcpt: 'bob@example.net' });
    expect(lines.find((l) => l.msg === 'queued' && l.queueId === queueId)).toBeTruthy();
    expect(text).not.toContain('Body of logged body secret');
  });

  it('reuses the connection to a next hop for the next message', async () => {
    const sessionsBefore = peer.sessions.length;
    for (const subject of ['reuse one', 'reuse two']) {
      await transport(PASSWORD).sendMail({
        envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
        raw: testMessage(subject),
      });
      await expect
        .poll(() => peer.transactions.some((t) => t.content?.toString().includes(subject)), {
          timeout: 20_000,
        })
        .toBe(true);
    }
    expect(peer.sessions.length - sessionsBefore).toBeLessThanOrEqual(1);
  });
});
