import { replyCodes, sendRaw } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsResolver } from '../client/dns-resolver.ts';
import type { Envelope } from '../envelope.ts';
import { createSmtpServer, type SmtpServer } from '../server/create-smtp-server.ts';
import { createRecordingBackend, type RecordingBackend } from '../server/test-backend.ts';
import { SmtpError } from '../smtp-error.ts';
import type { Check, CheckContext, CheckTag, MessageInfo } from './check.ts';
import { checkTagsOf, type WithChecksOptions, withChecks } from './with-checks.ts';

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

const resolver = createDnsResolver({ servers: ['127.0.0.1:9'] });

async function start(backend: RecordingBackend, checks: Check[], options: WithChecksOptions = {}) {
  const server = createSmtpServer(
    { hostname: 'mx.test.example' },
    withChecks(backend, checks, { resolver, ...options }),
  );
  servers.push(server);
  const [address] = await server.listen();
  return address?.port ?? 0;
}

const reject = (code: number, enhanced: string, text = 'Refused by policy') => ({
  action: 'reject' as const,
  error: new SmtpError(code, enhanced, text),
});

const MESSAGE = 'Subject: hi\r\nFrom: alice@example.com\r\n\r\nhello\r\n.\r\n';
const TRANSACTION = `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n${MESSAGE}QUIT\r\n`;

describe('withChecks on a real server', () => {
  it('refuses the connection with the code of a connect-stage check, before the backend sees it', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [
      {
        name: 'block',
        connect: (ctx) =>
          ctx.connection.remoteAddress === '127.0.0.1' ? reject(554, '5.7.1') : { action: 'accept' },
      },
    ]);
    const replies = await sendRaw('127.0.0.1', port, 'EHLO client.example\r\n', { waitForGreeting: false });
    expect(replyCodes(replies)[0]).toBe('554 5.7.1');
    expect(backend.events).not.toContain('connect');
  });

  it('refuses MAIL with the check code; the backend never sees the sender', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [
      {
        name: 'sender',
        mail: (from) => (from?.domain === 'spam.example' ? reject(550, '5.7.1') : { action: 'accept' }),
      },
    ]);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO client.example\r\nMAIL FROM:<x@spam.example>\r\nMAIL FROM:<alice@example.com>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies)).toEqual(['220', '250', '550 5.7.1', '250 2.1.0', '221 2.0.0']);
    expect(backend.mails.map((mail) => mail.from?.domain)).toEqual(['example.com']);
  });

  it('refuses one RCPT with the check code and accepts the next, seeing the envelope so far', async () => {
    const backend = createRecordingBackend();
    const seen: (readonly string[])[] = [];
    const port = await start(backend, [
      {
        name: 'rcpt',
        rcpt: (to, ctx) => {
          seen.push(ctx.envelope?.rcptTo.map((r) => r.address.localPart) ?? []);
          return to.address.localPart === 'blocked' ? reject(554, '5.7.1') : { action: 'accept' };
        },
      },
    ]);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<one@example.net>\r\n' +
        `RCPT TO:<blocked@example.net>\r\nRCPT TO:<two@example.net>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(replyCodes(replies)).toEqual([
      '220',
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '554 5.7.1',
      '250 2.1.5',
      '354',
      '250 2.6.0',
      '221 2.0.0',
    ]);
    expect(seen).toEqual([[], ['one'], ['one']]);
    expect(backend.messages[0]?.envelope.rcptTo.map((r) => r.address.localPart)).toEqual(['one', 'two']);
  });

  it('refuses DATA on a header field with the check code; the backend never takes the message', async () => {
    const backend = createRecordingBackend();
    let info: MessageInfo | undefined;
    const port = await start(backend, [
      {
        name: 'subject',
        data: (message) => {
          info = message;
          const subject = message.header.find((field) => field.name.toLowerCase() === 'subject');
          return subject?.value === 'hi' ? reject(550, '5.7.1') : { action: 'accept' };
        },
      },
    ]);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      TRANSACTION.replace('MAIL FROM:<alice@example.com>', 'MAIL FROM:<alice@example.com> SIZE=100'),
    );
    expect(replyCodes(replies).slice(-2)).toEqual(['550 5.7.1', '221 2.0.0']);
    expect(backend.messages).toEqual([]);
    expect(info?.header.map((field) => field.name)).toEqual(['Received', 'Subject', 'From']);
    expect(info?.header[0]?.value).toMatch(
      /^from client\.example \(\[127\.0\.0\.1\]\)\tby mx\.test\.example/,
    );
    expect(info?.declaredSize).toBe(100);
  });

  it('reads the rest of a refused large message to its end, then replies and goes on', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [{ name: 'no', data: () => reject(550, '5.7.1') }]);
    const body = `${'y'.repeat(998)}\r\n`.repeat(3000);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: big\r\n\r\n${body}.\r\n` +
        'MAIL FROM:<alice@example.com>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies).slice(-3)).toEqual(['550 5.7.1', '250 2.1.0', '221 2.0.0']);
    expect(backend.messages).toEqual([]);
  });

  it('gives the backend the whole message after a data-stage check, with a tag field in front', async () => {
    const backend = createRecordingBackend();
    let tags: readonly CheckTag[] = [];
    const port = await start(backend, [
      { name: 'conn', connect: () => ({ action: 'tag', tag: 'first contact' }) },
      { name: 'look', data: () => ({ action: 'tag', tag: 'looked' }) },
    ]);
    const originalData = backend.connect.bind(backend);
    backend.connect = async (info) => {
      const session = await originalData(info);
      const data = session.data.bind(session);
      session.data = (message, envelope: Envelope) => {
        tags = checkTagsOf(envelope);
        return data(message, envelope);
      };
      return session;
    };
    // A body well beyond one chunk and the header limit: it streams through untouched.
    const body = `${'x'.repeat(998)}\r\n`.repeat(2000);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: big\r\n\r\n${body}.\r\nQUIT\r\n`,
    );
    expect(replyCodes(replies).slice(-2)).toEqual(['250 2.6.0', '221 2.0.0']);
    const stored = backend.messages[0]?.body ?? '';
    expect(stored).toMatch(
      /^X-Mailyard-Check: conn; first contact\r\nX-Mailyard-Check: look; looked\r\nReceived: from client\.example/,
    );
    expect(stored.endsWith(`\r\nSubject: big\r\n\r\n${body}`)).toBe(true);
    expect(tags).toEqual([
      { check: 'conn', tag: 'first contact' },
      { check: 'look', tag: 'looked' },
    ]);
  });

  it('hands on a message that is all header (no blank line) after a data-stage check', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [{ name: 'look', data: () => ({ action: 'accept' }) }]);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: only\r\n.\r\nQUIT\r\n',
    );
    expect(replyCodes(replies).slice(-2)).toEqual(['250 2.6.0', '221 2.0.0']);
    expect(backend.messages[0]?.body).toMatch(/^Received: [\s\S]*;\r\n\t[^\r]+\r\nSubject: only\r\n$/);
  });

  it('passes the message through untouched when nothing tags and no check reads the header', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [{ name: 'quiet', rcpt: () => ({ action: 'accept' }) }]);
    await sendRaw('127.0.0.1', port, TRANSACTION);
    expect(backend.messages[0]?.body).toMatch(
      /^Received: [\s\S]*\r\nSubject: hi\r\nFrom: alice@example\.com\r\n\r\nhello\r\n$/,
    );
  });

  it('adds no field with tagHeader false, but the backend still reads the tags', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [{ name: 't', mail: () => ({ action: 'tag', tag: 'x' }) }], {
      tagHeader: false,
    });
    await sendRaw('127.0.0.1', port, TRANSACTION);
    expect(backend.messages[0]?.body.startsWith('Received: ')).toBe(true);
  });

  it('forgets the tags of a transaction after RSET, keeps those of the connection, and writes each tag once', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [
      { name: 'conn', connect: () => ({ action: 'tag', tag: 'c' }) },
      {
        name: 'sender',
        mail: (from) => (from?.localPart === 'tagged' ? { action: 'tag', tag: 'm' } : { action: 'accept' }),
      },
      { name: 'each-rcpt', rcpt: () => ({ action: 'tag', tag: 'r' }) },
    ]);
    await sendRaw(
      '127.0.0.1',
      port,
      'EHLO client.example\r\nMAIL FROM:<tagged@example.com>\r\nRSET\r\nMAIL FROM:<plain@example.com>\r\n' +
        `RCPT TO:<a@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    const fields = (backend.messages[0]?.body ?? '')
      .split('\r\n')
      .filter((line) => line.startsWith('X-Mailyard-Check:'));
    expect(fields).toEqual(['X-Mailyard-Check: conn; c', 'X-Mailyard-Check: each-rcpt; r']);
  });

  it('answers 451 4.3.0 when a check hangs past its limit, and the client may retry', async () => {
    const backend = createRecordingBackend();
    const port = await start(backend, [{ name: 'hung', rcpt: () => new Promise(() => undefined) }], {
      timeoutMs: 50,
    });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies)).toEqual(['220', '250', '250 2.1.0', '451 4.3.0', '221 2.0.0']);
  });

  it('gives checks the HELO name and the resolver', async () => {
    const backend = createRecordingBackend();
    let context: CheckContext | undefined;
    const port = await start(backend, [
      {
        name: 'helo',
        mail: (_from, ctx) => {
          context = ctx;
          return { action: 'accept' };
        },
      },
    ]);
    await sendRaw('127.0.0.1', port, 'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nQUIT\r\n');
    expect(context?.connection.helo).toBe('client.example');
    expect(context?.envelope?.mailFrom).toEqual({ localPart: 'alice', domain: 'example.com' });
    expect(context?.resolver).toBe(resolver);
  });
});
