import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createTestCertificate, replyCodes, sendRaw, type TestCertificate } from '@mailyard/testkit';
import nodemailer from 'nodemailer';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpError } from '../smtp-error.ts';
import { createSmtpServer, type SmtpServer } from './create-smtp-server.ts';
import type { SmtpServerOptions } from './server-options.ts';
import { createRecordingBackend, type RecordingBackend } from './test-backend.ts';

let certificate: TestCertificate;
beforeAll(async () => {
  certificate = await createTestCertificate();
});

const servers: SmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close({ deadline: 1000 })));
});

async function start(backend: RecordingBackend, options: Partial<SmtpServerOptions> = {}) {
  const server = createSmtpServer({ hostname: 'mx.test.example', ...options }, backend);
  servers.push(server);
  const addresses = await server.listen();
  return { server, port: addresses[0]?.port ?? 0, addresses };
}

const TRANSACTION =
  'EHLO client.example\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n';
const MESSAGE = 'Subject: hi\r\n\r\nhello\r\n.\r\n';

/** Reads a stream's replies and waits for patterns, for dialogues that need a turn (STARTTLS). */
function reader(socket: Socket) {
  let text = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (data: Buffer) => {
    text += data.toString();
    waiter?.();
  });
  return {
    waitFor(pattern: RegExp): Promise<string> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout waiting for ${pattern}: ${text}`)), 10_000);
        const check = () => {
          const match = pattern.exec(text);
          if (!match) return;
          clearTimeout(timer);
          const upTo = match.index + match[0].length;
          const seen = text.slice(0, upTo);
          text = text.slice(upTo);
          waiter = null;
          resolve(seen);
        };
        waiter = check;
        check();
      });
    },
  };
}

/** EHLO, STARTTLS, then `afterTls` inside TLS; returns the replies before and after. */
async function starttlsDialog(port: number, afterTls: string): Promise<{ before: string; after: string }> {
  const plain = connect({ host: '127.0.0.1', port });
  const plainReader = reader(plain);
  await plainReader.waitFor(/^220 .*\r\n/m);
  plain.write('EHLO client.example\r\n');
  const before = await plainReader.waitFor(/^250 .*\r\n/m);
  plain.write('STARTTLS\r\n');
  await plainReader.waitFor(/^220 .*\r\n/m);
  plain.removeAllListeners('data');
  const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
  const secureReader = reader(secure as unknown as Socket);
  await new Promise((resolve) => secure.once('secureConnect', resolve));
  secure.write(afterTls);
  const after = await secureReader.waitFor(/^221 .*\r\n/m);
  secure.destroy();
  return { before, after };
}

function plain64(user: string, pass: string): string {
  return Buffer.from(`\0${user}\0${pass}`).toString('base64');
}

describe('a transaction', () => {
  it('accepts a message and hands the backend the envelope and the body', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    const replies = await sendRaw('127.0.0.1', port, `${TRANSACTION}${MESSAGE}QUIT\r\n`);
    expect(replyCodes(replies)).toEqual([
      '220',
      '250',
      '250 2.1.0',
      '250 2.1.5',
      '354',
      '250 2.6.0',
      '221 2.0.0',
    ]);
    expect(replies).toContain('250 2.6.0 queued as M1');
    const message = backend.messages[0];
    expect(message?.envelope.mailFrom).toEqual({ localPart: 'alice', domain: 'example.com' });
    expect(message?.envelope.rcptTo.map((r) => r.address.domain)).toEqual(['example.net']);
    expect(message?.body).toMatch(/\r\nSubject: hi\r\n\r\nhello\r\n$/);
  });

  it('prepends a Received header naming the one recipient', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend, { now: () => new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) });
    await sendRaw('127.0.0.1', port, `${TRANSACTION}${MESSAGE}QUIT\r\n`);
    const body = backend.messages[0]?.body ?? '';
    expect(body).toMatch(/^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.example/);
    expect(body).toContain('\twith ESMTP\r\n');
    expect(body).toContain('\tfor <bob@example.net>;\r\n\tFri, 2 Jan 2026 03:04:05 +0000\r\n');
  });

  it('leaves the for clause out of the Received header when there are two recipients', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    await sendRaw(
      '127.0.0.1',
      port,
      `EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nRCPT TO:<z@y.example>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(backend.messages[0]?.body).toMatch(/^Received: /);
    expect(backend.messages[0]?.body).not.toMatch(/\tfor </);
  });

  it('says SMTP in the Received header after HELO', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    await sendRaw(
      '127.0.0.1',
      port,
      `HELO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(backend.messages[0]?.body).toContain('\twith SMTP\r\n');
  });

  it('accepts a UTF-8 address under SMTPUTF8 and records UTF8SMTP', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO c.example\r\nMAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8\r\nRCPT TO:<ñandú@example.com>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(replies).toMatch(/^250 2\.6\.0 /m);
    expect(backend.mails[0]?.from).toEqual({
      localPart: 'δοκιμή',
      domain: 'xn--hxajbheg2az3al.xn--jxalpdlp',
    });
    expect(backend.messages[0]?.body).toContain('\twith UTF8SMTP\r\n');
  });

  it('parses the DSN parameters into the envelope when the backend supports DSN', async () => {
    const backend = createRecordingBackend({ dsn: true });
    const { port } = await start(backend);
    await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nMAIL FROM:<a@b.example> RET=HDRS ENVID=id+2B1 SIZE=50 BODY=8BITMIME\r\n' +
        `RCPT TO:<x@y.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;x+2By@y.example\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(backend.messages[0]?.envelope.params).toEqual({
      ret: 'HDRS',
      envid: 'id+1',
      size: 50,
      body: '8BITMIME',
    });
    expect(backend.messages[0]?.envelope.rcptTo[0]).toEqual({
      address: { localPart: 'x', domain: 'y.example' },
      notify: ['FAILURE', 'DELAY'],
      orcpt: 'rfc822;x+y@y.example',
    });
  });

  it('calls reset when RSET ends an open transaction, and close when the client leaves', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    await sendRaw('127.0.0.1', port, 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRSET\r\nQUIT\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(backend.events).toEqual(['connect', 'mail', 'reset', 'close']);
  });
});

describe('EHLO', () => {
  it('advertises PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, SIZE, STARTTLS and DSN', async () => {
    const { port } = await start(createRecordingBackend({ dsn: true }), {
      tls: certificate,
      maxMessageSize: 12345,
    });
    const replies = await sendRaw('127.0.0.1', port, 'EHLO c.example\r\nQUIT\r\n');
    for (const keyword of [
      'PIPELINING',
      '8BITMIME',
      'SMTPUTF8',
      'ENHANCEDSTATUSCODES',
      'SIZE 12345',
      'STARTTLS',
      'DSN',
    ]) {
      expect(replies).toMatch(new RegExp(`^250[- ]${keyword}\r$`, 'm'));
    }
  });

  it('does not advertise DSN without backend support, nor STARTTLS without a certificate', async () => {
    const { port } = await start(createRecordingBackend());
    const replies = await sendRaw('127.0.0.1', port, 'EHLO c.example\r\nQUIT\r\n');
    expect(replies).not.toMatch(/^250[- ]DSN/m);
    expect(replies).not.toMatch(/^250[- ]STARTTLS/m);
    expect(replies).toMatch(/^250[- ]ENHANCEDSTATUSCODES/m);
  });
});

describe('TLS and AUTH', () => {
  it('offers AUTH only after STARTTLS, and refuses it before with 530 5.7.0', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { tls: certificate });
    const refused = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO c.example\r\nAUTH PLAIN ${plain64('ann', 'secret')}\r\nQUIT\r\n`,
    );
    expect(refused).not.toMatch(/^250[- ]AUTH/m);
    expect(refused).toMatch(/^530 5\.7\.0 /m);
    const { before, after } = await starttlsDialog(
      port,
      `EHLO c.example\r\nAUTH PLAIN ${plain64('ann', 'secret')}\r\nQUIT\r\n`,
    );
    expect(before).not.toMatch(/AUTH/);
    expect(after).toMatch(/^250[- ]AUTH PLAIN LOGIN\r$/m);
    expect(after).toMatch(/^235 2\.7\.0 /m);
  });

  it('greets over TLS on an implicit TLS listener next to a STARTTLS one', async () => {
    const backend = createRecordingBackend();
    const { addresses } = await start(backend, {
      tls: certificate,
      listeners: [{ name: 'submission' }, { name: 'submissions', tls: 'implicit' }],
    });
    expect(addresses.map((a) => [a.name, a.tls])).toEqual([
      ['submission', 'starttls'],
      ['submissions', 'implicit'],
    ]);
    const implicit = addresses[1]?.port ?? 0;
    const replies = await sendRaw('127.0.0.1', implicit, `${TRANSACTION}${MESSAGE}QUIT\r\n`, { tls: true });
    expect(replies).toMatch(/^250 2\.6\.0 /m);
    expect(replies).not.toMatch(/^250[- ]STARTTLS/m);
    expect(backend.connections[0]).toMatchObject({ listener: 'submissions', secure: true });
    expect(backend.connections[0]?.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(backend.messages[0]?.body).toMatch(/\twith ESMTPS \(TLSv1\.[23] cipher /);
  });

  it('delivers with nodemailer over STARTTLS with AUTH, recorded as ESMTPSA', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { tls: certificate, listeners: [{ requireAuth: true }] });
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port,
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'ann', pass: 'secret' },
    });
    const info = await transport.sendMail({
      from: 'ann@example.com',
      to: 'bob@example.net',
      subject: 'via nodemailer',
      text: 'hello',
    });
    transport.close();
    expect(info.response).toMatch(/^250 2\.6\.0 queued as M1/);
    expect(backend.connections[0]?.user).toBe('ann');
    expect(backend.messages[0]?.body).toMatch(/\twith ESMTPSA \(TLSv1\.[23] cipher /);
    expect(backend.messages[0]?.body).toContain('Subject: via nodemailer');
  });

  it('accepts AUTH on a plaintext listener that allows it, and refuses a wrong password with 535 5.7.8', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { listeners: [{ allowPlaintextAuth: true }] });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO c.example\r\nAUTH PLAIN ${plain64('ann', 'wrong')}\r\nAUTH PLAIN ${plain64('ann', 'secret')}\r\n` +
        `MAIL FROM:<ann@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(replies).toMatch(/^250[- ]AUTH PLAIN LOGIN\r$/m);
    expect(replies).toMatch(/^535 5\.7\.8 /m);
    expect(replies).toMatch(/^235 2\.7\.0 /m);
    expect(backend.messages[0]?.body).toContain('\twith ESMTPA\r\n');
  });

  it('accepts AUTH LOGIN with base64 username and password lines', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { listeners: [{ allowPlaintextAuth: true }] });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `EHLO c.example\r\nAUTH LOGIN\r\n${b64('ann')}\r\n${b64('secret')}\r\nQUIT\r\n`,
    );
    expect(replies).toMatch(/^235 2\.7\.0 /m);
    expect(backend.connections[0]?.user).toBe('ann');
  });

  it('requires AUTH before MAIL on a listener that says so, with 530 5.7.0', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { listeners: [{ allowPlaintextAuth: true, requireAuth: true }] });
    const replies = await sendRaw('127.0.0.1', port, 'EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nQUIT\r\n');
    expect(replies).toMatch(/^530 5\.7\.0 /m);
    expect(backend.mails).toHaveLength(0);
  });

  it('refuses invalid base64 in AUTH with 501 5.5.2, in the command and in a continuation line', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { listeners: [{ allowPlaintextAuth: true }] });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nAUTH PLAIN not*base64!\r\nAUTH LOGIN\r\n%%%\r\nNOOP\r\nQUIT\r\n',
    );
    expect(replies.match(/^501 5\.5\.2 /gm)).toHaveLength(2);
    expect(replies).toMatch(/^334 /m);
    expect(replies).toMatch(/^250 2\.0\.0 OK/m);
    expect(backend.events).not.toContain('auth');
  });

  it('refuses a configuration that requires AUTH without any way to offer it', () => {
    expect(() =>
      createSmtpServer(
        { hostname: 'mx.test.example', listeners: [{ requireAuth: true }] },
        createRecordingBackend({ users: {} }),
      ),
    ).toThrow(RangeError);
    expect(() =>
      createSmtpServer(
        { hostname: 'mx.test.example', listeners: [{ tls: 'implicit' }] },
        createRecordingBackend(),
      ),
    ).toThrow(/no tls certificate/);
  });
});

describe('backend replies', () => {
  it('refuses the connection with the SmtpError that connect throws', async () => {
    const backend = createRecordingBackend({
      connect() {
        throw new SmtpError(554, '5.7.1', 'Access denied');
      },
    });
    const { port } = await start(backend);
    expect(await sendRaw('127.0.0.1', port, '', { waitForGreeting: false })).toBe(
      '554 5.7.1 Access denied\r\n',
    );
  });

  it('passes an SmtpError from rcpt through, and turns any other error into 451 4.3.0', async () => {
    const backend = createRecordingBackend({
      mail(from) {
        if (from?.localPart === 'crash') throw new Error('database down');
      },
      rcpt(to) {
        if (to.address.localPart === 'nobody') throw new SmtpError(550, '5.1.1', 'No such user');
      },
    });
    const { port } = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nMAIL FROM:<crash@b.example>\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@y.example>\r\nQUIT\r\n',
    );
    expect(replies).toMatch(/^451 4\.3\.0 /m);
    expect(replies).toMatch(/^550 5\.1\.1 No such user\r$/m);
    expect(replies).not.toContain('database down');
  });

  it('replies with the SmtpError that data throws, and 250 when data resolves without text', async () => {
    let count = 0;
    const backend = createRecordingBackend({
      async data(message) {
        for await (const _ of message) {
        }
        count++;
        if (count === 1) throw new SmtpError(554, '5.7.1', 'Message refused by policy');
      },
    });
    const { port } = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      `${TRANSACTION}${MESSAGE}MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n${MESSAGE}QUIT\r\n`,
    );
    expect(replyCodes(replies).slice(4)).toEqual([
      '354',
      '554 5.7.1',
      '250 2.1.0',
      '250 2.1.5',
      '354',
      '250 2.6.0',
      '221 2.0.0',
    ]);
    expect(replies).toMatch(/^250 2\.6\.0 OK: message accepted\r$/m);
    expect(replies).toMatch(/^554 5\.7\.1 Message refused by policy\r$/m);
  });
});

describe('malformed input', () => {
  async function stillUp(port: number) {
    expect(await sendRaw('127.0.0.1', port, 'QUIT\r\n')).toMatch(/^220 .*\r\n221 /);
  }

  it('answers RCPT before MAIL with 503 5.5.1', async () => {
    const { port } = await start(createRecordingBackend());
    expect(await sendRaw('127.0.0.1', port, 'EHLO c.example\r\nRCPT TO:<a@b.example>\r\nQUIT\r\n')).toMatch(
      /^503 5\.5\.1 /m,
    );
    await stillUp(port);
  });

  it('answers MAIL before HELO/EHLO with 503', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    const replies = await sendRaw('127.0.0.1', port, 'MAIL FROM:<a@b.example>\r\nQUIT\r\n');
    expect(replies).toMatch(/^503 5\.5\.1 Error: send HELO\/EHLO first\r$/m);
    expect(backend.mails).toHaveLength(0);
    await stillUp(port);
  });

  it('answers an unknown command with 500 and goes on with the session', async () => {
    const { port } = await start(createRecordingBackend());
    const replies = await sendRaw('127.0.0.1', port, 'FROB now\r\nEHLO c.example\r\nQUIT\r\n');
    expect(replyCodes(replies)).toEqual(['220', '500 5.5.2', '250', '221 2.0.0']);
  });

  it('closes a connection that sends an HTTP request line with 421', async () => {
    const { port } = await start(createRecordingBackend());
    const replies = await sendRaw('127.0.0.1', port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(replies).toMatch(/^421 .*HTTP requests not allowed\r$/m);
    await stillUp(port);
  });

  it('answers bad address syntax with 501', async () => {
    const backend = createRecordingBackend();
    const { port } = await start(backend);
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nMAIL FROM:<a@@b>\r\nMAIL FROM:a@b.example\r\nMAIL FROM:<a..b@example.com>\r\nMAIL FROM:<a@-bad-.example>\r\nQUIT\r\n',
    );
    expect(replies.match(/^501 5\.1\.7 /gm)).toHaveLength(4);
    expect(backend.mails).toHaveLength(0);
    await stillUp(port);
  });

  it('answers NUL bytes with a 5xx reply', async () => {
    const { port } = await start(createRecordingBackend());
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\n\0\0\0\r\nMAIL FROM:<a\0b@c.example>\r\nQUIT\r\n',
    );
    expect(replyCodes(replies)).toEqual(['220', '250', '500 5.5.2', '501 5.1.7', '221 2.0.0']);
    await stillUp(port);
  });

  it('answers binary garbage with 5xx replies and stays up', async () => {
    const { port } = await start(createRecordingBackend());
    const garbage = Buffer.alloc(300);
    for (let i = 0; i < garbage.length; i++)
      garbage[i] = (i * 73 + 11) % 256 === 10 ? 0 : (i * 73 + 11) % 256;
    const replies = await sendRaw('127.0.0.1', port, [
      garbage,
      '\r\n',
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      '\r\nQUIT\r\n',
    ]);
    const seen = replyCodes(replies).slice(1);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((code) => !code.startsWith('221')).every((code) => code.startsWith('5'))).toBe(true);
    await stillUp(port);
  });
});

describe('enhanced status codes', () => {
  it('puts an RFC 3463 code of the right class on every reply but the greeting, EHLO and 3xx', async () => {
    const backend = createRecordingBackend({ users: { ann: 'secret' } });
    const { port } = await start(backend, { listeners: [{ allowPlaintextAuth: true }], maxMessageSize: 100 });
    const replies = await sendRaw(
      '127.0.0.1',
      port,
      'EHLO c.example\r\nHELP\r\nVRFY bob\r\nNOOP\r\nRSET\r\nDATA\r\nRCPT TO:<a@b.example>\r\nAUTH CRAM-MD5\r\n' +
        `AUTH PLAIN ${Buffer.from('\0ann\0bad').toString('base64')}\r\nMAIL FROM:<a@b.example> SIZE=1000\r\n` +
        'MAIL FROM:<a@b.example> FOO=BAR\r\nMAIL FROM:<a@b.example> BODY=BINARYMIME\r\nMAIL FROM:<a@b.example>\r\n' +
        'MAIL FROM:<c@d.example>\r\nRCPT TO:<bad>\r\nSTARTTLS\r\nXCLIENT ADDR=1.2.3.4\r\nQUIT\r\n',
    );
    const lines = replies.split('\r\n').filter((line) => line !== '');
    // Skip the greeting and the EHLO reply (RFC 2034 §3) and 3xx continuations.
    const afterEhlo = lines.slice(lines.findIndex((line) => line.startsWith('250 ')) + 1);
    const checked = afterEhlo.filter((line) => !/^3\d\d/.test(line));
    expect(checked.length).toBeGreaterThan(15);
    for (const line of checked) {
      const match = /^(\d)\d\d ([245])\.\d{1,3}\.\d{1,3} /.exec(line);
      expect(match, line).not.toBeNull();
      expect(match?.[1], line).toBe(match?.[2]);
    }
  });
});

describe('close', () => {
  it('closes on Symbol.asyncDispose', async () => {
    const backend = createRecordingBackend();
    const server = createSmtpServer({ hostname: 'mx.test.example' }, backend);
    const [address] = await server.listen();
    await server[Symbol.asyncDispose]();
    await expect(sendRaw('127.0.0.1', address?.port ?? 0, 'QUIT\r\n')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('says 421 4.3.2 to an idle connection and stops accepting new ones', async () => {
    const { server, port } = await start(createRecordingBackend());
    const idle = sendRaw('127.0.0.1', port, 'EHLO c.example\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.close({ deadline: 2000 });
    expect(await idle).toMatch(/^421 4\.3\.2 /m);
    await expect(sendRaw('127.0.0.1', port, 'QUIT\r\n')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('lets a transaction in flight finish, then says 421', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const backend = createRecordingBackend({
      async data(message) {
        for await (const _ of message) {
        }
        await gate;
        return 'queued as SLOW';
      },
    });
    const { server, port } = await start(backend);
    const client = sendRaw('127.0.0.1', port, `${TRANSACTION}${MESSAGE}`, { until: /^421 /m });
    while (!backend.events.includes('data')) await new Promise((resolve) => setTimeout(resolve, 10));
    const closed = server.close({ deadline: 10_000 });
    await expect(sendRaw('127.0.0.1', port, 'QUIT\r\n')).rejects.toThrow(/ECONNREFUSED/);
    release();
    const replies = await client;
    expect(replies).toMatch(/^250 2\.6\.0 queued as SLOW\r\n421 4\.3\.2 /m);
    await closed;
  });

  it('says 421 to a transaction still running at the deadline', async () => {
    const backend = createRecordingBackend({
      data: () => new Promise<string>(() => undefined),
    });
    const { server, port } = await start(backend);
    const client = sendRaw('127.0.0.1', port, `${TRANSACTION}${MESSAGE}`, { until: /^421 /m });
    while (!backend.events.includes('data')) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = performance.now();
    await server.close({ deadline: 300 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(await client).toMatch(/^421 4\.3\.2 /m);
  });
});
