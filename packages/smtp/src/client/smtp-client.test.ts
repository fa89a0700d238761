import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createTestCertificate, type PeerScript, type SmtpPeer, startPeer } from '@mailyard/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAddress } from '../address.ts';
import type { Envelope } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import { openSmtpClient, type SmtpClient, type SmtpClientOptions } from './smtp-client.ts';

const EOD_SEQUENCES = new URL(
  '../../../../../shared/testdata/smtp-smuggling-sequences/eod-sequences.json',
  import.meta.url,
);

const peers: SmtpPeer[] = [];
const clients: SmtpClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

let certificate: { key: string; cert: string };
beforeAll(async () => {
  certificate = await createTestCertificate({
    commonName: 'mx.example.test',
    altNames: ['DNS:mx.example.test'],
  });
});

async function peer(script: PeerScript = {}): Promise<SmtpPeer> {
  const started = await startPeer(script);
  peers.push(started);
  return started;
}

async function open(target: SmtpPeer, options: Partial<SmtpClientOptions> = {}): Promise<SmtpClient> {
  const client = await openSmtpClient({
    host: target.host,
    port: target.port,
    localName: 'client.test',
    ...options,
  });
  clients.push(client);
  return client;
}

function envelope(rcpts: string[], from = 'sender@example.test', params: Envelope['params'] = {}): Envelope {
  return {
    mailFrom: from === '' ? null : parseAddress(from, { smtputf8: true }),
    rcptTo: rcpts.map((r) => ({ address: parseAddress(r, { smtputf8: true }) })),
    params,
  };
}

const MESSAGE = 'Subject: test\r\n\r\nHello\r\n';

describe('openSmtpClient', () => {
  it('delivers a message and reports the final reply for every recipient', async () => {
    const target = await peer();
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test', 'b@x.test']), message: MESSAGE });
    expect(outcomes).toEqual([
      { rcpt: 'a@x.test', status: 'delivered', reply: '250 2.0.0 OK queued' },
      { rcpt: 'b@x.test', status: 'delivered', reply: '250 2.0.0 OK queued' },
    ]);
    await target.waitForTransactions(1);
    expect(target.transactions[0]?.content?.toString()).toBe(MESSAGE);
    expect(target.sessions[0]?.heloName).toBe('client.test');
  });

  it('sends MAIL and all RCPTs in one group when the server offers PIPELINING', async () => {
    const target = await peer({ mail: [{ delayMs: 100, reply: '250 2.1.0 OK' }] });
    const client = await open(target);
    await client.send({ envelope: envelope(['a@x.test', 'b@x.test', 'c@x.test']), message: MESSAGE });
    const commands = target.sessions[0]?.commands.filter((c) => ['MAIL', 'RCPT'].includes(c.verb));
    expect(commands?.map((c) => [c.verb, c.pipelined])).toEqual([
      ['MAIL', false],
      ['RCPT', true],
      ['RCPT', true],
      ['RCPT', true],
    ]);
  });

  it('waits for each reply when the server does not offer PIPELINING', async () => {
    const target = await peer({ extensions: ['8BITMIME'] });
    const client = await open(target);
    await client.send({ envelope: envelope(['a@x.test', 'b@x.test']), message: MESSAGE });
    expect(target.sessions[0]?.commands.some((c) => c.pipelined)).toBe(false);
  });

  it('gives each recipient its own outcome from its RCPT reply', async () => {
    const target = await peer({
      rcpt: ['250 2.1.5 OK', '451 4.2.1 Mailbox busy', '550 5.1.1 No such user', '250 2.1.5 OK'],
    });
    const client = await open(target);
    const outcomes = await client.send({
      envelope: envelope(['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test']),
      message: MESSAGE,
    });
    expect(outcomes.map((o) => o.status)).toEqual(['delivered', 'deferred', 'bounced', 'delivered']);
    const [, deferred, bounced] = outcomes;
    expect(deferred?.status === 'deferred' && [deferred.error.code, deferred.error.enhanced]).toEqual([
      451,
      '4.2.1',
    ]);
    expect(bounced?.status === 'bounced' && bounced.error).toBeInstanceOf(SmtpError);
    expect(bounced?.status === 'bounced' && [bounced.error.code, bounced.error.enhanced]).toEqual([
      550,
      '5.1.1',
    ]);
    expect(target.transactions[0]?.accepted).toHaveLength(2);
  });

  it('applies a rejected MAIL to every recipient', async () => {
    const target = await peer({ mail: '553 5.7.1 Sender rejected', extensions: ['SIZE 10485760'] });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test', 'b@x.test']), message: MESSAGE });
    expect(outcomes.map((o) => o.status)).toEqual(['bounced', 'bounced']);
    expect(target.commands.includes('DATA')).toBe(false);
  });

  it('pipelines MAIL, RCPT and DATA as one group, and sends no content when the group failed', async () => {
    const target = await peer({ rcpt: '550 5.1.1 No such user' });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test', 'b@x.test']), message: MESSAGE });
    expect(outcomes.map((o) => o.status)).toEqual(['bounced', 'bounced']);
    expect(target.commands.slice(-4).map((c) => c.split(':')[0])).toEqual([
      'MAIL FROM',
      'RCPT TO',
      'RCPT TO',
      'DATA',
    ]);
    expect(target.transactions.every((t) => t.content === null)).toBe(true);
  });

  it('ends at once the data a server accepted after refusing every recipient', async () => {
    const target = await peer({ rcpt: '550 5.1.1 No such user', data: '354 go ahead' });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status).toBe('bounced');
    expect(target.transactions.at(-1)?.content?.length ?? 0).toBe(0);
    // The connection is still in step: the next message goes through.
    const next = await client.send({ envelope: envelope(['b@x.test']), message: MESSAGE });
    expect(next[0]?.status).toBe('bounced');
    expect(target.commands.filter((c) => c === 'RSET')).toHaveLength(1);
  });

  it('applies the reply after the end of data to every accepted recipient', async () => {
    const target = await peer({ dataEnd: '452 4.3.1 Insufficient storage' });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.code).toBe(452);
  });

  it('defers the recipients when the server drops the connection mid-DATA', async () => {
    const target = await peer({ dropMidData: true });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['a@x.test', 'b@x.test']), message: MESSAGE });
    expect(outcomes.map((o) => o.status)).toEqual(['deferred', 'deferred']);
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toMatch(/^4\.4\./);
    expect(client.usable).toBe(false);
  });

  it('bounces a UTF-8 address with 553 5.6.7 when the server lacks SMTPUTF8', async () => {
    const target = await peer({ extensions: ['PIPELINING', '8BITMIME'] });
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['jürgen@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status === 'bounced' && [outcomes[0].error.code, outcomes[0].error.enhanced]).toEqual(
      [553, '5.6.7'],
    );
    expect(target.commands.some((c) => c.startsWith('MAIL'))).toBe(false);
  });

  it('bounces an SMTPUTF8 message with 554 5.6.7 when the server lacks SMTPUTF8', async () => {
    const target = await peer({ extensions: ['PIPELINING'] });
    const client = await open(target);
    const outcomes = await client.send({
      envelope: envelope(['a@x.test'], 'sender@example.test', { smtputf8: true }),
      message: MESSAGE,
    });
    expect(outcomes[0]?.status === 'bounced' && [outcomes[0].error.code, outcomes[0].error.enhanced]).toEqual(
      [554, '5.6.7'],
    );
  });

  it('sends the SMTPUTF8 parameter to a server that offers it', async () => {
    const target = await peer();
    const client = await open(target);
    const outcomes = await client.send({ envelope: envelope(['jürgen@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status).toBe('delivered');
    expect(target.transactions[0]?.mailFrom).toMatch(/ SMTPUTF8/);
    expect(target.transactions[0]?.rcptTo).toEqual(['RCPT TO:<jürgen@x.test>']);
  });

  it('never emits a bare CR or LF, whatever end-of-data sequence the message holds', async () => {
    const sequences = (
      JSON.parse(readFileSync(EOD_SEQUENCES, 'utf8')) as { outbound_eod_sequences: { hex: string }[] }
    ).outbound_eod_sequences;
    expect(sequences.length).toBeGreaterThan(0);
    const target = await peer();
    const client = await open(target);
    for (const [i, sequence] of sequences.entries()) {
      const message = Buffer.concat([
        Buffer.from(`Subject: smuggle ${i}\r\n\r\nbefore`),
        Buffer.from(sequence.hex, 'hex'),
        Buffer.from('MAIL FROM:<evil@x.test>\r\nafter\r\n'),
      ]);
      const outcomes = await client.send({ envelope: envelope(['a@x.test']), message });
      expect(outcomes[0]?.status).toBe('delivered');
    }
    await target.waitForTransactions(sequences.length);
    expect(target.transactions).toHaveLength(sequences.length);
    for (const transaction of target.transactions) {
      const data = transaction.data?.toString('latin1') ?? '';
      expect(data.replace(/\r\n/g, '')).not.toMatch(/[\r\n\0]/);
      expect(data.indexOf('\r\n.\r\n')).toBe(data.length - 5);
      expect(transaction.content?.toString('latin1')).toContain('after');
    }
  });

  it('dot-stuffs lines that start with a dot', async () => {
    const target = await peer();
    const client = await open(target);
    await client.send({ envelope: envelope(['a@x.test']), message: 'Subject: x\r\n\r\n.\r\n..two\r\n.end' });
    await target.waitForTransactions(1);
    expect(target.transactions[0]?.data?.toString()).toBe('Subject: x\r\n\r\n..\r\n...two\r\n..end\r\n.\r\n');
    expect(target.transactions[0]?.content?.toString()).toBe('Subject: x\r\n\r\n.\r\n..two\r\n.end\r\n');
  });

  it('declares the message size when the server offers SIZE', async () => {
    const target = await peer();
    const client = await open(target);
    await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(target.transactions[0]?.mailFrom).toBe(`MAIL FROM:<sender@example.test> SIZE=${MESSAGE.length}`);
  });

  it('bounces with 552 5.3.4 without sending a message larger than the server allows', async () => {
    const target = await peer({ extensions: ['PIPELINING', 'SIZE 100'] });
    const client = await open(target);
    const outcomes = await client.send({
      envelope: envelope(['a@x.test']),
      message: `${MESSAGE}${'x'.repeat(200)}`,
    });
    expect(outcomes[0]?.status === 'bounced' && [outcomes[0].error.code, outcomes[0].error.enhanced]).toEqual(
      [552, '5.3.4'],
    );
    expect(target.commands.some((c) => c.startsWith('MAIL'))).toBe(false);
  });

  it('passes DSN parameters when the server offers DSN', async () => {
    const target = await peer({ extensions: ['PIPELINING', 'DSN'] });
    const client = await open(target);
    await client.send({
      envelope: {
        mailFrom: parseAddress('s@example.test'),
        rcptTo: [
          { address: parseAddress('a@x.test'), notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;a+b@x.test' },
        ],
        params: { ret: 'HDRS', envid: 'id 1' },
      },
      message: MESSAGE,
    });
    expect(target.transactions[0]?.mailFrom).toBe('MAIL FROM:<s@example.test> RET=HDRS ENVID=id+201');
    expect(target.transactions[0]?.rcptTo).toEqual([
      'RCPT TO:<a@x.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;a+2Bb@x.test',
    ]);
  });

  it('reuses one connection for several messages, with no RSET after a transaction the server ended with 2xx', async () => {
    const target = await peer();
    const client = await open(target);
    for (let i = 0; i < 3; i++) {
      const outcomes = await client.send({ envelope: envelope([`r${i}@x.test`]), message: MESSAGE });
      expect(outcomes[0]?.status).toBe('delivered');
    }
    expect(target.sessions).toHaveLength(1);
    expect(target.transactions).toHaveLength(3);
    expect(target.commands.filter((c) => c === 'RSET')).toHaveLength(0);
  });

  it('sends RSET before the next transaction when the last one ended without 2xx', async () => {
    const target = await peer({ rcpt: '550 5.1.1 No such user' });
    const client = await open(target);
    for (let i = 0; i < 2; i++) {
      const outcomes = await client.send({ envelope: envelope([`r${i}@x.test`]), message: MESSAGE });
      expect(outcomes[0]?.status).toBe('bounced');
    }
    expect(target.commands.filter((c) => c === 'RSET')).toHaveLength(1);
  });

  it('streams a message given as a function returning a stream', async () => {
    const target = await peer();
    const client = await open(target);
    const outcomes = await client.send({
      envelope: envelope(['a@x.test']),
      message: () => Readable.from([Buffer.from('Subject: s\n\n'), Buffer.from('line\n')]),
    });
    expect(outcomes[0]?.status).toBe('delivered');
    expect(target.transactions[0]?.content?.toString()).toBe('Subject: s\r\n\r\nline\r\n');
  });

  it('defers with 451 4.3.0 when the message cannot be read', async () => {
    const target = await peer();
    const client = await open(target);
    const outcomes = await client.send({
      envelope: envelope(['a@x.test']),
      message: () =>
        new Readable({
          read() {
            this.destroy(new Error('disk on fire'));
          },
        }),
      size: 10,
    });
    expect(
      outcomes[0]?.status === 'deferred' && [outcomes[0].error.code, outcomes[0].error.enhanced],
    ).toEqual([451, '4.3.0']);
  });

  it('falls back to HELO when the server rejects EHLO', async () => {
    const target = await peer({ ehlo: '502 5.5.2 Command not recognized' });
    const client = await open(target);
    expect(client.extensions.size).toBe(0);
    const outcomes = await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status).toBe('delivered');
    expect(target.commands.slice(0, 2)).toEqual(['EHLO client.test', 'HELO client.test']);
  });

  it('refuses a session whose greeting is not 220', async () => {
    const target = await peer({ greeting: '421 4.3.2 Too busy' });
    const error = await openSmtpClient({ host: target.host, port: target.port }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && [error.code, error.enhanced]).toEqual([421, '4.3.2']);
  });

  it('times out a silent greeting after the configured greeting timeout', async () => {
    const target = await peer({ greeting: 'silent' });
    const error = await openSmtpClient({
      host: target.host,
      port: target.port,
      timeouts: { greeting: 300 },
    }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && [error.code, error.enhanced]).toEqual([451, '4.4.2']);
  });

  it('defers when the server never answers the end of data', async () => {
    const target = await peer({ dataEnd: 'silent' });
    const client = await open(target, { timeouts: { dataEnd: 300 } });
    const outcomes = await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toBe('4.4.2');
  });

  it('fails with 451 4.4.1 when nothing listens', async () => {
    const target = await peer();
    await target.close();
    const error = await openSmtpClient({ host: target.host, port: target.port }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && error.enhanced).toBe('4.4.1');
  });

  it('uses STARTTLS opportunistically when the server offers it', async () => {
    const target = await peer({ tls: certificate });
    const client = await open(target);
    expect(client.secure).toBe(true);
    expect(client.verified).toBe(false);
    await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(target.transactions[0]?.tls).toBe(true);
    expect(target.commands.filter((c) => c.startsWith('EHLO'))).toHaveLength(2);
  });

  it('continues in plaintext when STARTTLS is not offered and TLS is opportunistic', async () => {
    const target = await peer();
    const client = await open(target);
    expect(client.secure).toBe(false);
    expect(target.commands).not.toContain('STARTTLS');
  });

  it('reconnects in plaintext after a failed opportunistic TLS handshake', async () => {
    const target = await peer({
      extensions: ['PIPELINING', 'STARTTLS'],
      starttls: '220 2.0.0 Ready (but not really)',
    });
    const client = await open(target);
    expect(client.secure).toBe(false);
    const outcomes = await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(outcomes[0]?.status).toBe('delivered');
    expect(target.sessions).toHaveLength(2);
    expect(target.sessions[1]?.commands.map((c) => c.verb)).not.toContain('STARTTLS');
  });

  it('refuses a session whose server sends data right after its STARTTLS reply', async () => {
    const target = await peer({
      extensions: ['PIPELINING', 'STARTTLS'],
      starttls: { raw: '220 2.0.0 Ready\r\n250 2.0.0 injected\r\n' },
    });
    const error = await openSmtpClient({ host: target.host, port: target.port }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && error.enhanced).toBe('4.5.0');
  });

  it('refuses the session when TLS is required and STARTTLS is not offered', async () => {
    const target = await peer();
    const error = await openSmtpClient({ host: target.host, port: target.port, tls: 'required' }).catch(
      (e: unknown) => e,
    );
    expect(error instanceof SmtpError && [error.code, error.enhanced]).toEqual([451, '4.7.0']);
    expect(target.commands).not.toContain('MAIL FROM:<sender@example.test>');
  });

  it('verifies the certificate against the given CA and server name when TLS is required', async () => {
    const target = await peer({ tls: certificate });
    const client = await open(target, {
      tls: 'required',
      servername: 'mx.example.test',
      tlsOptions: { ca: certificate.cert },
    });
    expect(client.verified).toBe(true);
  });

  it('refuses a certificate that does not verify when TLS is required', async () => {
    const target = await peer({ tls: certificate });
    const error = await openSmtpClient({
      host: target.host,
      port: target.port,
      tls: 'required',
      servername: 'other.example.test',
      tlsOptions: { ca: certificate.cert },
    }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && [error.code, error.enhanced]).toEqual([451, '4.7.5']);
  });

  it('speaks TLS from the first byte in implicit mode', async () => {
    const target = await peer({ tls: certificate, implicitTls: true });
    const client = await open(target, {
      tls: 'implicit',
      servername: 'mx.example.test',
      tlsOptions: { ca: certificate.cert },
    });
    expect(client.verified).toBe(true);
    await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(target.transactions[0]?.tls).toBe(true);
    expect(target.commands).not.toContain('STARTTLS');
  });

  it('defers the recipients when the send is aborted', async () => {
    const target = await peer({ dataEnd: 'silent' });
    const client = await open(target);
    const controller = new AbortController();
    const sending = client.send({ envelope: envelope(['a@x.test']), message: MESSAGE }, controller.signal);
    await target.waitForTransactions(1);
    controller.abort();
    const outcomes = await sending;
    expect(
      outcomes[0]?.status === 'deferred' && [outcomes[0].error.code, outcomes[0].error.enhanced],
    ).toEqual([451, '4.3.0']);
  });

  it('authenticates with AUTH PLAIN after STARTTLS', async () => {
    const target = await peer({ tls: certificate, auth: { users: { alice: 's3cret' } } });
    const client = await open(target, { auth: { username: 'alice', password: 's3cret' } });
    await client.send({ envelope: envelope(['a@x.test']), message: MESSAGE });
    expect(target.sessions[0]?.auth).toEqual({ mechanism: 'PLAIN', username: 'alice', password: 's3cret' });
    expect(target.commands.indexOf('STARTTLS')).toBeLessThan(
      target.commands.findIndex((c) => c.startsWith('AUTH')),
    );
  });

  it('authenticates with AUTH LOGIN when asked to', async () => {
    const target = await peer({ tls: certificate, auth: { users: { bob: 'pw' } } });
    await open(target, { auth: { username: 'bob', password: 'pw', method: 'LOGIN' } });
    expect(target.sessions[0]?.auth?.mechanism).toBe('LOGIN');
  });

  it('fails the session with a temporary error when credentials are refused', async () => {
    const target = await peer({ tls: certificate, auth: { users: { alice: 'right' } } });
    const error = await openSmtpClient({
      host: target.host,
      port: target.port,
      auth: { username: 'alice', password: 'wrong' },
    }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && [error.code, error.enhanced]).toEqual([451, '4.7.8']);
    expect(error instanceof SmtpError && error.cause instanceof SmtpError && error.cause.code).toBe(535);
  });

  it('never sends credentials without TLS unless TLS is off', async () => {
    const target = await peer({ auth: {} });
    const error = await openSmtpClient({
      host: target.host,
      port: target.port,
      auth: { username: 'alice', password: 'pw' },
    }).catch((e: unknown) => e);
    expect(error instanceof SmtpError && error.enhanced).toBe('4.7.0');
    expect(target.commands.some((c) => c.startsWith('AUTH'))).toBe(false);
  });
});
