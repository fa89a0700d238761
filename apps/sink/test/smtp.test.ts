import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStaticResolver, type Resolver } from '@mailyard/auth';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startSink } from './helpers.ts';

function transportFor(port: number, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, ...extra });
}

describe('SMTP side', () => {
  it('accepts any AUTH credentials in accept-any mode and records the user name', async () => {
    await using sink = await startSink({ smtpAuth: { mode: 'accept-any' } });
    const transport = transportFor(sink.smtpAddress.port, { auth: { user: 'whoever', pass: 'anything' } });
    await transport.sendMail({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    transport.close();
    await sink.store.idle();
    expect((await sink.json('/api/v1/messages')).messages[0].Username).toBe('whoever');
  });

  it('refuses wrong credentials with 535 when a credentials list is set', async () => {
    await using sink = await startSink({
      smtpAuth: { mode: 'credentials', credentials: new Map([['dev', 'pw']]) },
    });
    const bad = transportFor(sink.smtpAddress.port, { auth: { user: 'dev', pass: 'nope' } });
    await expect(
      bad.sendMail({ from: 'a@example.test', to: 'b@example.test', text: 'x' }),
    ).rejects.toMatchObject({
      responseCode: 535,
    });
    bad.close();
    const good = transportFor(sink.smtpAddress.port, { auth: { user: 'dev', pass: 'pw' } });
    await good.sendMail({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    good.close();
  });

  it('refuses a message over the size limit with 552', async () => {
    await using sink = await startSink({ maxMessageSize: 10_000 });
    await expect(
      sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x'.repeat(20_000) }),
    ).rejects.toMatchObject({ responseCode: 552 });
    expect(sink.store.count().total).toBe(0);
  });

  it('requires STARTTLS when told to, and accepts mail over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailyard-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      await using sink = await startSink({
        tls: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
        requireStarttls: true,
      });
      await expect(
        sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' }),
      ).rejects.toMatchObject({
        responseCode: 530,
      });
      const tls = transportFor(sink.smtpAddress.port, {
        ignoreTLS: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
      });
      await tls.sendMail({ from: 'a@example.test', to: 'b@example.test', text: 'over tls' });
      tls.close();
      expect(sink.store.count().total).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shows temperror verdicts quickly when DNS never answers', async () => {
    await using sink = await startSink({
      verdicts: { resolver: () => new Promise(() => {}), dnsBudgetMs: 300 },
    });
    const id = await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    const started = Date.now();
    await sink.store.verdictsIdle();
    expect(Date.now() - started).toBeLessThan(10_000);
    const message = await sink.json(`/api/v1/message/${id}`);
    expect(message.Verdicts.spf.result).toBe('temperror');
    expect(message.Verdicts.dnsBudgetExhausted).toBe(true);
  });

  it('answers 250 before the verdicts, lists the message at once, then adds them to the API and the event stream', async () => {
    // DNS answers only when the test lets it: verdicts cannot be ready before the 250.
    let answer = () => {};
    const gate = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const zone = createStaticResolver({ 'example.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
    const resolver: Resolver = async (name, rrtype) => {
      await gate;
      return zone(name, rrtype);
    };
    await using sink = await startSink({ verdicts: { resolver, dnsBudgetMs: 30_000 } });
    const ws = new WebSocket(`${sink.httpUrl.replace('http', 'ws')}/api/events`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const update = new Promise<{ ID: string; Verdicts: { spf: { result: string } } }>((resolve) => {
      ws.on('message', (data) => {
        const event = JSON.parse(String(data));
        if (event.Type === 'update' && event.Data.Verdicts) resolve(event.Data);
      });
    });
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      subject: 'pending',
      text: 'x',
    });
    const list = await sink.json('/api/v1/messages');
    expect(list.messages.map((m: { ID: string }) => m.ID)).toEqual([id]);
    expect((await sink.json(`/api/v1/message/${id}`)).Verdicts).toBeNull();
    answer();
    const event = await update;
    expect(event.ID).toBe(id);
    expect(event.Verdicts.spf.result).toBe('pass');
    expect((await sink.json(`/api/v1/message/${id}`)).Verdicts.spf.result).toBe('pass');
    ws.close();
  });

  it('never relays unless told to, and auto-releases matching recipients when configured', async () => {
    await using target = await startSink();
    await using sink = await startSink({
      relay: `smtp://127.0.0.1:${target.smtpAddress.port}`,
      relayMatching: '@forward\\.example\\.test$',
    });
    await sink.send({ from: 'a@example.test', to: 'kept@example.test', subject: 'stay', text: 'x' });
    await sink.send({ from: 'a@example.test', to: 'x@forward.example.test', subject: 'go', text: 'x' });
    await expect.poll(() => target.store.count().total, { timeout: 10_000 }).toBe(1);
    await target.store.idle();
    expect((await target.json('/api/v1/messages')).messages[0].Subject).toBe('go');
  });

  it('lists every message through the API as soon as its 250 arrives, with 20 sessions sending at once', async () => {
    await using sink = await startSink({ verdicts: false, maxMessages: 0 });
    const sessions = Array.from({ length: 20 }, async (_, session) => {
      for (let n = 0; n < 10; n++) {
        const raw = `Subject: s${session} n${n}\r\n\r\nbody ${session}/${n}\r\n`;
        const id = await sink.sendRaw(raw);
        // Checked on the 250 itself, before anything else runs: the commit is already visible.
        expect(sink.store.get(id)).not.toBeNull();
        // The raw route does not wait for background work: it serves what is committed.
        const response = await sink.get(`/api/v1/message/${id}/raw`);
        expect(response.status).toBe(200);
        expect((await response.text()).endsWith(raw)).toBe(true);
      }
    });
    await Promise.all(sessions);
    expect(sink.store.count()).toEqual({ total: 200, unread: 200 });
    expect((await sink.json('/api/v1/messages?limit=1')).total).toBe(200);
  });
});
