// The README shows the files in examples/ verbatim; these tests run them against real sockets.

import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { parseAddress } from '@mailyard/smtp';
import { openTempDir, startDns, startPeer } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startForwarder } from '../examples/forward-locally.ts';
import { type ForwardedMail, startWebhookReceiver } from '../examples/webhook-receiver.ts';
import { createWebhookCourier, WEBHOOK_PREFIX } from '../src/webhook-courier.ts';
import { deliveredTo, until } from './helpers.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README examples', () => {
  it.each(['forward-locally.ts', 'webhook-receiver.ts'])('shows examples/%s verbatim', (name) => {
    const example = readFileSync(new URL(`../examples/${name}`, import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it('forward-locally forwards hello@ to both inboxes and refuses other aliases', async () => {
    await using dir = await openTempDir();
    await using peer = await startPeer({});
    await using dns = await startDns({
      'inbox.test': { MX: [{ priority: 10, exchange: 'mx.inbox.test' }] },
      'mx.inbox.test': { A: ['127.0.0.1'] },
    });
    await using forwarder = await startForwarder(dir.join('data'), {
      port: 0,
      dnsServer: dns.address,
      deliveryPort: peer.port,
    });
    const transport = createTransport({ host: '127.0.0.1', port: forwarder.listener.port, secure: false });
    await transport.sendMail({ from: 'carol@sender.test', to: 'hello@example.test', text: 'hi' });
    await expect(
      transport.sendMail({ from: 'carol@sender.test', to: 'other@example.test', text: 'hi' }),
    ).rejects.toMatchObject({
      responseCode: 550,
    });
    await until(
      () =>
        deliveredTo(peer, 'ann@inbox.test').length === 1 && deliveredTo(peer, 'bob@inbox.test').length === 1,
    );
  });

  it('webhook-receiver accepts a signed delivery and refuses one signed with another secret', async () => {
    const received: ForwardedMail[] = [];
    const server = await startWebhookReceiver('the-shared-secret-123', (mail) => received.push(mail), 0);
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const request = {
        queueId: 'Q',
        nextHop: `${WEBHOOK_PREFIX}app`,
        envelope: {
          mailFrom: parseAddress('carol@sender.test'),
          rcptTo: [{ address: parseAddress('orders@example.test') }],
          params: {},
        },
        openMessage: () => Readable.from([Buffer.from('Subject: order 42\r\n\r\nthanks\r\n')]),
      };
      const deliver = (secret: string) =>
        createWebhookCourier({ endpoints: new Map([['app', { url, secret, timeoutMs: 2000 }]]) }).deliver(
          request,
          new AbortController().signal,
        );
      expect((await deliver('the-shared-secret-123'))[0]?.status).toBe('delivered');
      expect(received).toEqual([
        expect.objectContaining({ mailFrom: 'carol@sender.test', subject: 'order 42' }),
      ]);
      expect((await deliver('a-guessed-secret-000'))[0]?.status).toBe('deferred');
      expect(received).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});
