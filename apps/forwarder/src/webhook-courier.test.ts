import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { type DeliveryRequest, parseAddress } from '@mailyard/smtp';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookCourier, SIGNATURE_HEADER, WEBHOOK_PREFIX } from './webhook-courier.ts';

const SECRET = 'webhook-secret-1';
const MESSAGE =
  'From: Ann <ann@sender.test>\r\nSubject: Hello\r\n there\r\nMessage-ID: <1@sender.test>\r\n\r\nBody text\r\n';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((done) => server?.close(done) ?? done(undefined));
  server = undefined;
});

async function receiver(status: number | 'hang'): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const listening = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (status !== 'hang') res.writeHead(status).end('ok');
    });
  });
  server = listening;
  await new Promise<void>((done) => listening.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}/hook`, received };
}

function request(message = MESSAGE): DeliveryRequest {
  return {
    queueId: 'Q1',
    nextHop: `${WEBHOOK_PREFIX}inbox`,
    envelope: {
      mailFrom: parseAddress('SRS0=abcd=XY=sender.test=ann@forward.test'),
      rcptTo: [{ address: parseAddress('hook@forward.test') }],
      params: {},
    },
    openMessage: () => Readable.from([Buffer.from(message)]),
  };
}

/** The receiver's side, written independently of signWebhook. */
function signatureValid(header: string, body: string, secret: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=') as [string, string]));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe('webhook courier', () => {
  it('POSTs a signed JSON summary with the raw message and the original sender', async () => {
    const hook = await receiver(204);
    const courier = createWebhookCourier({
      endpoints: new Map([['inbox', { url: hook.url, secret: SECRET, timeoutMs: 2000 }]]),
      originalSender: (from) => (from?.startsWith('SRS0=') ? 'ann@sender.test' : from),
      now: () => new Date(1_700_000_000_000),
    });
    const outcomes = await courier.deliver(request(), new AbortController().signal);
    expect(outcomes).toEqual([
      { rcpt: 'hook@forward.test', status: 'delivered', reply: expect.stringMatching(/^250 /) },
    ]);
    const [got] = hook.received;
    const header = String(got?.headers[SIGNATURE_HEADER]);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(signatureValid(header, got?.body ?? '', SECRET)).toBe(true);
    expect(signatureValid(header, `${got?.body} `, SECRET)).toBe(false);
    expect(signatureValid(header, got?.body ?? '', 'other')).toBe(false);
    const payload = JSON.parse(got?.body ?? '{}');
    expect(payload).toMatchObject({
      queueId: 'Q1',
      mailFrom: 'ann@sender.test',
      rcptTo: ['hook@forward.test'],
      subject: 'Hello there',
      from: 'Ann <ann@sender.test>',
      messageId: '<1@sender.test>',
      raw: MESSAGE,
      rawEncoding: 'utf8',
      size: MESSAGE.length,
    });
  });

  it('sends 8-bit non-UTF-8 messages as base64', async () => {
    const hook = await receiver(200);
    const courier = createWebhookCourier({
      endpoints: new Map([['inbox', { url: hook.url, secret: SECRET, timeoutMs: 2000 }]]),
    });
    const latin1 = Buffer.concat([Buffer.from('Subject: x\r\n\r\n'), Buffer.from([0xe9, 0x0d, 0x0a])]);
    const req = { ...request(), openMessage: () => Readable.from([latin1]) };
    await courier.deliver(req, new AbortController().signal);
    const payload = JSON.parse(hook.received[0]?.body ?? '{}');
    expect(payload.rawEncoding).toBe('base64');
    expect(Buffer.from(payload.raw, 'base64')).toEqual(latin1);
  });

  it.each([
    [410, 'bounced'],
    [404, 'bounced'],
    [500, 'deferred'],
    [429, 'deferred'],
  ] as const)('HTTP %i is %s', async (status, expected) => {
    const hook = await receiver(status);
    const courier = createWebhookCourier({
      endpoints: new Map([['inbox', { url: hook.url, secret: SECRET, timeoutMs: 2000 }]]),
    });
    const [outcome] = await courier.deliver(request(), new AbortController().signal);
    expect(outcome?.status).toBe(expected);
  });

  it('defers on a timeout, an unreachable endpoint and an unknown webhook name', async () => {
    const hook = await receiver('hang');
    const slow = createWebhookCourier({
      endpoints: new Map([['inbox', { url: hook.url, secret: SECRET, timeoutMs: 200 }]]),
    });
    expect((await slow.deliver(request(), new AbortController().signal))[0]?.status).toBe('deferred');
    const closed = createWebhookCourier({
      endpoints: new Map([['inbox', { url: 'http://127.0.0.1:1/', secret: SECRET, timeoutMs: 2000 }]]),
    });
    expect((await closed.deliver(request(), new AbortController().signal))[0]?.status).toBe('deferred');
    const none = createWebhookCourier({ endpoints: new Map() });
    const [outcome] = await none.deliver(request(), new AbortController().signal);
    expect(outcome).toMatchObject({ status: 'deferred', error: { code: 451 } });
    server?.closeAllConnections();
  });
});
