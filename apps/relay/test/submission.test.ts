// Submission (RFC 6409) and AUTH (RFC 4954): AUTH only after TLS, required before MAIL, 535 for
// bad credentials, 454 once a client IP or a user name has failed too often, 553 5.7.1 for a
// sender the user was not granted; 250 only after the queue committed.

import { sendRaw } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startTestRelay, type TestRelay, testMessage } from './helpers.ts';

function transport(relay: TestRelay, user: string, pass: string) {
  return createTransport({
    host: '127.0.0.1',
    port: relay.port('submission'),
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
}

describe('submission listener', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startTestRelay({
      users: { throttle: { maxFailuresPerUser: 3, maxFailuresPerIp: 50 } },
      // No DNS server answers: nothing submitted here is delivered during the test.
      dns: { servers: ['127.0.0.1:9'] },
    });
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
  });

  it('does not offer AUTH before STARTTLS', async () => {
    const text = await sendRaw('127.0.0.1', relay.port('submission'), 'EHLO client.test\r\nQUIT\r\n', {
      until: /^221 /m,
    });
    expect(text).toMatch(/STARTTLS/);
    expect(text).not.toMatch(/AUTH/);
  });

  it('refuses MAIL without AUTH', async () => {
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('submission'),
      'EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\nQUIT\r\n',
      {
        until: /^221 /m,
      },
    );
    expect(text).toMatch(/^530 /m);
  });

  it('accepts a message with AUTH over STARTTLS and answers 250 with the queue id once it is queued', async () => {
    const info = await transport(relay, 'alice', PASSWORD).sendMail({
      envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
      raw: testMessage('submitted'),
    });
    const queueId = /queued as (\S+)/.exec(info.response)?.[1];
    expect(queueId).toBeTruthy();
    const shown = await relay.relay.queue.show(queueId as string);
    expect(shown?.recipients.map((r) => r.rcpt)).toEqual(['bob@example.net']);
  });

  it('refuses a sender address the user was not granted with 553 5.7.1', async () => {
    const error = await transport(relay, 'alice', PASSWORD)
      .sendMail({
        envelope: { from: 'ceo@bank.example', to: ['bob@example.net'] },
        raw: testMessage('spoof', 'ceo@bank.example'),
      })
      .catch((e: { responseCode?: number; response?: string }) => e);
    expect((error as { responseCode?: number }).responseCode).toBe(553);
    expect((error as { response?: string }).response).toMatch(/5\.7\.1/);
  });

  it('answers 535 to a wrong password', async () => {
    const error = await transport(relay, 'alice', 'wrong password')
      .verify()
      .catch((e: { responseCode?: number }) => e);
    expect((error as { responseCode?: number }).responseCode).toBe(535);
  });

  it('answers 535 to an unknown user', async () => {
    const error = await transport(relay, 'mallory', PASSWORD)
      .verify()
      .catch((e: { responseCode?: number }) => e);
    expect((error as { responseCode?: number }).responseCode).toBe(535);
  });

  it('answers 454 once a user has failed too often, even with the right password', async () => {
    for (let i = 0; i < 3; i++) {
      await transport(relay, 'carol', 'guess')
        .verify()
        .catch(() => undefined);
    }
    const error = await transport(relay, 'carol', 'guess')
      .verify()
      .catch((e: { responseCode?: number }) => e);
    expect((error as { responseCode?: number }).responseCode).toBe(454);
  });
});

describe('implicit TLS listener', () => {
  it('accepts AUTH PLAIN over TLS from the first byte', async () => {
    await using relay = await startTestRelay({ dns: { servers: ['127.0.0.1:9'] } });
    const plain = Buffer.from(`\0alice\0${PASSWORD}`).toString('base64');
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('submissions'),
      `EHLO client.test\r\nAUTH PLAIN ${plain}\r\nQUIT\r\n`,
      {
        tls: { rejectUnauthorized: false },
        until: /^221 /m,
      },
    );
    expect(text).toMatch(/^235 /m);
  });
});

describe('failed-auth throttling per client IP', () => {
  it('answers 454 to every user once the address has failed too often', async () => {
    await using relay = await startTestRelay({
      users: { throttle: { maxFailuresPerUser: 50, maxFailuresPerIp: 2 } },
      dns: { servers: ['127.0.0.1:9'] },
    });
    await transport(relay, 'x1', 'guess')
      .verify()
      .catch(() => undefined);
    await transport(relay, 'x2', 'guess')
      .verify()
      .catch(() => undefined);
    const error = await transport(relay, 'alice', PASSWORD)
      .verify()
      .catch((e: { responseCode?: number }) => e);
    expect((error as { responseCode?: number }).responseCode).toBe(454);
  });
});
