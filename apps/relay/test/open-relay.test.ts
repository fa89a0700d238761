// Never an open relay: a client outside the trusted networks, without AUTH, gets 554 5.7.1 for
// every recipient outside the local domains, however the address is dressed up (RFC 2505 §2).
// Each case goes over a real socket to the trusted (MX-style) listener.

import { sendRaw } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from './helpers.ts';

/** The final line of each reply, in order: greeting, EHLO, MAIL, RCPT, QUIT. */
function replyLines(text: string): string[] {
  return text.split('\r\n').filter((line) => /^\d{3} /.test(line));
}

async function rcptReply(relay: TestRelay, path: string): Promise<string> {
  const port = relay.port('trusted');
  const text = await sendRaw(
    '127.0.0.1',
    port,
    `EHLO client.test\r\nMAIL FROM:<someone@example.com>\r\nRCPT TO:${path}\r\nQUIT\r\n`,
    {
      until: /^221 /m,
    },
  );
  return replyLines(text)[3] ?? text;
}

describe('relay control for untrusted clients without AUTH', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    // Loopback is not trusted here, so the test client is an outsider.
    relay = await startTestRelay({
      listeners: { trusted: { listen: '127.0.0.1:0', networks: ['10.0.0.0/8'] } },
    });
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
  });

  it('accepts a recipient in a local domain', async () => {
    expect(await rcptReply(relay, '<postmaster@relay.test>')).toMatch(/^250 /);
  });

  it('refuses a recipient in another domain with 554 5.7.1', async () => {
    expect(await rcptReply(relay, '<bob@example.net>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses the %-hack through a local domain', async () => {
    expect(await rcptReply(relay, '<bob%example.net@relay.test>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses a source route through a local domain', async () => {
    expect(await rcptReply(relay, '<@relay.test:bob@example.net>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses a source route of several hops', async () => {
    expect(await rcptReply(relay, '<@relay.test,@relay.test:bob@example.net>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses a quoted local part holding an @', async () => {
    expect(await rcptReply(relay, '<"bob@example.net"@relay.test>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses a bang path through a local domain', async () => {
    expect(await rcptReply(relay, '<example.net!bob@relay.test>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses an IP address literal', async () => {
    expect(await rcptReply(relay, '<bob@[192.0.2.1]>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses an IP address literal of the relay itself', async () => {
    expect(await rcptReply(relay, '<postmaster@[127.0.0.1]>')).toMatch(/^554 5\.7\.1 /);
  });

  it('refuses a foreign domain with a trailing dot (5xx, never 250)', async () => {
    // The parser refuses a trailing dot as bad syntax (501 5.1.3) before relay control is asked.
    expect(await rcptReply(relay, '<bob@example.net.>')).toMatch(/^5\d\d /);
  });

  it('refuses a local domain with a trailing dot (5xx, never 250)', async () => {
    expect(await rcptReply(relay, '<postmaster@relay.test.>')).toMatch(/^5\d\d /);
  });

  it('refuses a local domain written in another case only if it is foreign (case-insensitive domains)', async () => {
    expect(await rcptReply(relay, '<postmaster@RELAY.TEST>')).toMatch(/^250 /);
    expect(await rcptReply(relay, '<bob@EXAMPLE.NET>')).toMatch(/^554 5\.7\.1 /);
  });

  it('never lets a refused recipient reach DATA: the message is refused with 554 for lack of recipients', async () => {
    const text = await sendRaw(
      '127.0.0.1',
      relay.port('trusted'),
      'EHLO client.test\r\nMAIL FROM:<someone@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n',
      { until: /^221 /m },
    );
    expect(text).not.toMatch(/^250 .*queued/m);
    expect((await relay.relay.queue.counts()).pending).toBe(0);
  });
});

describe('relay control for trusted networks', () => {
  it('lets a client in a trusted network relay without AUTH', async () => {
    await using relay = await startTestRelay();
    expect(await rcptReply(relay, '<bob@example.net>')).toMatch(/^250 /);
  });
});
