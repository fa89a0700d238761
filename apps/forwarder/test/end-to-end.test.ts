// Proof, end to end on loopback with real parts only: a sender domain with SPF and DKIM (signed by
// nodemailer, an independent signer) sends to aliases of forward.test; the forwarder delivers to
// the destination's MX (an SMTP peer) found through a loopback DNS server. There the ARC chain
// validates with Debian's python3-dkim, the envelope sender is an SRS0 address of the forwarder,
// and DMARC of the original sender still passes through DKIM (checked by @mailyard/auth's verify,
// as the destination would).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createResolver, verify } from '@mailyard/auth';
import { dkimpyArcVerify, dkimpyAvailable, dkimpyVerify } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTo, KEY_RECORDS, send, startWorld, type TestWorld, until } from './helpers.ts';

const dkimpy = dkimpyAvailable();
const ci = process.env.CI === 'true';

interface Hook {
  readonly signature: string;
  readonly body: string;
}

describe('forwarding on loopback', () => {
  let world: TestWorld;
  let hookServer: Server;
  const hooks: Hook[] = [];
  beforeAll(async () => {
    hookServer = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        hooks.push({
          signature: String(req.headers['mailyard-signature']),
          body: Buffer.concat(chunks).toString(),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => hookServer.listen(0, '127.0.0.1', done));
    const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/mail`;
    world = await startWorld(
      { webhooks: { app: { url: hookUrl, secret: 'webhook-secret-0123456789' } } },
      {
        rcpt: (command) =>
          command.line.toLowerCase().includes('<gone@inbox.test>') ? '550 5.1.1 No such mailbox' : undefined,
      },
    );
  });
  afterAll(async () => {
    await world?.[Symbol.asyncDispose]();
    await new Promise((done) => hookServer?.close(done));
  });

  it('forwards with an SRS0 sender and an ARC seal; DKIM, DMARC and ARC pass at the destination', async () => {
    const info = await send(world.port, { from: 'ann@sender.test', to: ['alias@forward.test'], dkim: true });
    expect(info.response).toMatch(/^250 .*queued as /);
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 1);
    const [delivered] = deliveredTo(world.peer, 'dest@inbox.test');
    const mailFrom = /<([^>]*)>/.exec(delivered?.mailFrom ?? '')?.[1] ?? '';
    expect(mailFrom).toMatch(/^SRS0=[^=]+=[^=]+=sender\.test=ann@forward\.test$/i);
    expect(world.forwarder.srs.reverse(mailFrom)).toEqual({ ok: true, address: 'ann@sender.test' });
    const message = delivered?.content?.toString('latin1') ?? '';
    expect(message).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none;/m);
    expect(message).toMatch(/^Authentication-Results: mx\.forward\.test;/m);
    // The destination's view: SPF checks the SRS domain, DMARC aligns through the original DKIM.
    const verdict = await verify(Buffer.from(message, 'latin1'), {
      envelope: { mailFrom: { localPart: mailFrom.split('@')[0] ?? '', domain: 'forward.test' } },
      clientIp: '127.0.0.1',
      helo: 'mx.forward.test',
      resolver: createResolver({ servers: [world.dns.address] }),
      authservId: 'mx.inbox.test',
    });
    expect(verdict.spf).toMatchObject({ result: 'pass', domain: 'forward.test' });
    expect(verdict.dmarc).toMatchObject({ result: 'pass', fromDomain: 'sender.test' });
    expect(verdict.dmarc.alignment.dkim).toBe('sender.test');
    expect(verdict.arc).toMatchObject({ result: 'pass', instance: 1 });
  });

  it.skipIf(!dkimpy && !ci)('validates with an independent ARC verifier (python3-dkim)', async () => {
    await send(world.port, { from: 'ann@sender.test', to: ['two@forward.test'], dkim: true });
    await until(() => deliveredTo(world.peer, 'one@inbox.test').length === 1);
    const [delivered] = deliveredTo(world.peer, 'one@inbox.test');
    // Both destinations got one transaction: one message, one copy per next hop.
    expect(delivered?.accepted).toHaveLength(2);
    const message = delivered?.content?.toString('latin1') ?? '';
    expect(dkimpyArcVerify(message, KEY_RECORDS)).toMatchObject({ cv: 'pass', instances: 1 });
    expect(dkimpyVerify(message, KEY_RECORDS)).toEqual([true]);
  });

  it('refuses unknown aliases and foreign domains at RCPT, and rule rejections with their reply', async () => {
    await expect(
      send(world.port, { from: 'ann@sender.test', to: ['nobody@forward.test'] }),
    ).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('5.1.1'),
    });
    await expect(
      send(world.port, { from: 'ann@sender.test', to: ['x@elsewhere.test'] }),
    ).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('5.7.1'),
    });
    await expect(
      send(world.port, { from: 'ann@sender.test', to: ['old@forward.test'] }),
    ).rejects.toMatchObject({
      response: expect.stringContaining('550 5.1.6 This address moved'),
    });
  });

  it('refuses a message that has looped through more than 50 hops with 554 5.4.6', async () => {
    const received = Array.from(
      { length: 51 },
      (_, i) => `Received: from hop${i}.test by hop${i + 1}.test; Sun, 29 Nov 2026 10:00:00 +0000`,
    );
    const raw = [
      ...received,
      'From: ann@sender.test',
      'To: alias@forward.test',
      'Subject: loop',
      '',
      'again',
      '',
    ].join('\r\n');
    const transport = createTransport({
      host: '127.0.0.1',
      port: world.port,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    await expect(
      transport.sendMail({ envelope: { from: 'ann@sender.test', to: ['alias@forward.test'] }, raw }),
    ).rejects.toMatchObject({ responseCode: 554, response: expect.stringContaining('5.4.6') });
  });

  it('routes a catch-all and a subaddress as documented; a drop rule accepts and delivers nothing', async () => {
    await send(world.port, { from: 'ann@sender.test', to: ['anything@catch.test'], dkim: true });
    await send(world.port, { from: 'ann@sender.test', to: ['alice+shop@forward.test'], dkim: true });
    await send(world.port, { from: 'ann@sender.test', to: ['alice+news@forward.test'], dkim: true });
    const dropped = await send(world.port, {
      from: 'ann@sender.test',
      to: ['spam@forward.test'],
      dkim: true,
    });
    expect(dropped.response).toMatch(/^250 .*dropped/);
    await until(
      () =>
        deliveredTo(world.peer, 'catchall@inbox.test').length === 1 &&
        deliveredTo(world.peer, 'alice@inbox.test').length === 1 &&
        deliveredTo(world.peer, 'news@inbox.test').length === 1,
    );
  });

  it('refuses a DMARC p=reject failure at DATA and tags a p=quarantine failure', async () => {
    await expect(
      send(world.port, { from: 'eve@strict.test', to: ['alias@forward.test'] }),
    ).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringMatching(/5\.7\.1 .*DMARC.*strict\.test/),
    });
    await send(world.port, { from: 'eve@loose.test', to: ['alice@forward.test'], subject: 'loose' });
    await until(() =>
      deliveredTo(world.peer, 'alice@inbox.test').some((t) => t.content?.includes('Subject: loose')),
    );
    const tagged = deliveredTo(world.peer, 'alice@inbox.test').find((t) =>
      t.content?.includes('Subject: loose'),
    );
    expect(tagged?.content?.toString()).toMatch(/^X-Mailyard-Quarantine: dmarc=fail policy=quarantine/m);
  });

  it('sends a DSN to the original sender when a destination refuses for good, and reverses bounces to SRS addresses', async () => {
    await send(world.port, { from: 'ann@sender.test', to: ['bounce@forward.test'], dkim: true });
    await until(() => deliveredTo(world.peer, 'ann@sender.test').length === 1);
    const [dsn] = deliveredTo(world.peer, 'ann@sender.test');
    expect(dsn?.mailFrom).toMatch(/<>/);
    expect(dsn?.content?.toString()).toMatch(/multipart\/report; report-type=delivery-status/);
    expect(dsn?.content?.toString()).toMatch(/Final-Recipient: rfc822; ?gone@inbox\.test/i);

    // A bounce that another MTA sends back to the SRS address reaches the original sender.
    const srsAddress = world.forwarder.srs.forward('bob@sender.test');
    await send(world.port, { from: 'mailer-daemon@inbox.test', mailFrom: null, to: [srsAddress] });
    await until(() => deliveredTo(world.peer, 'bob@sender.test').length === 1);

    // Forged and tampered SRS addresses are refused at RCPT.
    const tampered = srsAddress.replace('bob', 'eve');
    for (const bad of [tampered, 'SRS0=AAAA=AA=sender.test=bob@forward.test']) {
      await expect(
        send(world.port, { from: 'x@inbox.test', mailFrom: null, to: [bad] }),
      ).rejects.toMatchObject({
        responseCode: 550,
        response: expect.stringContaining('5.7.1'),
      });
    }
  });

  it('posts to a webhook whose receiver verifies the HMAC signature', async () => {
    await send(world.port, {
      from: 'ann@sender.test',
      to: ['hook@forward.test'],
      dkim: true,
      subject: 'To the app',
    });
    await until(() => hooks.length === 1);
    const [hook] = hooks;
    const { t, v1 } = Object.fromEntries(
      (hook?.signature ?? '').split(',').map((kv) => kv.split('=')),
    ) as Record<string, string>;
    const expected = createHmac('sha256', 'webhook-secret-0123456789').update(`${t}.${hook?.body}`).digest();
    expect(timingSafeEqual(Buffer.from(v1 ?? '', 'hex'), expected)).toBe(true);
    expect(Math.abs(Number(t) - Date.now() / 1000)).toBeLessThan(60);
    const payload = JSON.parse(hook?.body ?? '{}');
    expect(payload).toMatchObject({
      mailFrom: 'ann@sender.test',
      rcptTo: ['hook@forward.test'],
      subject: 'To the app',
    });
    expect(payload.raw).toContain('Hello through the forwarder.');
  });

  it('answers /healthz and serves the queue API behind the token', async () => {
    const health = await fetch(`${world.forwarder.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${world.forwarder.adminUrl}/api/queue`)).status).toBe(401);
  });
});

describe('limits', () => {
  it('refuses a client over its messages per minute with 450 4.7.1', async () => {
    await using world = await startWorld({ limits: { messagesPerMinute: 2 } });
    const transport = createTransport({
      host: '127.0.0.1',
      port: world.port,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    const mail = { from: 'ann@sender.test', to: 'alias@forward.test', text: 'x' };
    await transport.sendMail(mail);
    await transport.sendMail(mail);
    await expect(transport.sendMail(mail)).rejects.toMatchObject({
      responseCode: 450,
      response: expect.stringContaining('4.7.1'),
    });
  });
});
