// The SMTP client session: one connection to one server, over which any number of messages are
// sent (RSET between them). RFC 5321 §3.2-§3.3 and §4.1 (greeting, EHLO with HELO fallback, MAIL,
// RCPT, DATA, RSET, QUIT), RFC 2920 (PIPELINING: MAIL and every RCPT in one write), RFC 3207
// (STARTTLS), RFC 4954 (AUTH PLAIN/LOGIN, RFC 4616), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
// RFC 6531 (SMTPUTF8) and RFC 3461 (DSN parameters). `send` never throws for SMTP or network
// trouble: it answers one outcome per recipient.
//
// TLS modes: `opportunistic` (default) uses STARTTLS when offered, without certificate checks
// (RFC 7435), and when the handshake fails it reconnects once and continues in plaintext, as
// Postfix does at security level `may`. `required` fails unless STARTTLS succeeds, `implicit`
// speaks TLS from the first byte (port 465, RFC 8314), `none` never uses TLS. Certificates are
// verified (against `tlsOptions.ca` or the system CAs, name = `servername`) in `required` and
// `implicit` unless `verifyCertificate: false`.

import { hostname } from 'node:os';
import { formatAddress, needsSmtputf8 } from '../address.ts';
import type { Outcome } from '../delivery.ts';
import { type Envelope, encodeXtext, type Recipient } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import { DataEncoder, encodeStream, type MessageSource, measureMessage } from './data-encoder.ts';
import { delivered, failed } from './outcomes.ts';
import {
  type ConnectionTlsOptions,
  formatReply,
  type Reply,
  SmtpConnection,
  TlsHandshakeError,
} from './smtp-connection.ts';
import { resolveTimeouts, type SmtpTimeouts } from './timeouts.ts';

export type ClientTlsMode = 'opportunistic' | 'required' | 'implicit' | 'none';

export interface SmtpAuthOptions {
  readonly username: string;
  readonly password: string;
  /** Default: PLAIN when the server offers it, else LOGIN. */
  readonly method?: 'PLAIN' | 'LOGIN';
}

export interface SmtpClientOptions {
  /** Address (or host name) to connect to. */
  readonly host: string;
  /** Default 25 (465 with `tls: 'implicit'`). */
  readonly port?: number;
  /** The server's host name for SNI and certificate checks (e.g. the MX name when `host` is an IP). */
  readonly servername?: string;
  /** Our name in EHLO/HELO (default: os.hostname()). */
  readonly localName?: string;
  readonly tls?: ClientTlsMode;
  /** Verify the server certificate; default true for `required` and `implicit`, false otherwise. */
  readonly verifyCertificate?: boolean;
  /** Extra TLS settings, such as `ca` for a private certificate authority. */
  readonly tlsOptions?: ConnectionTlsOptions;
  /** AUTH credentials; sent only over TLS unless `tls` is `'none'`. */
  readonly auth?: SmtpAuthOptions;
  readonly timeouts?: Partial<SmtpTimeouts>;
  readonly signal?: AbortSignal;
}

export interface ClientMessage {
  readonly envelope: Envelope;
  /** The message (headers and body); a function may be called more than once. */
  readonly message: MessageSource;
  /** Its size in octets, if known (else measured when the server advertises SIZE). */
  readonly size?: number;
}

export interface SmtpClient extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** The greeting reply, e.g. `220 mx.example.com ESMTP`. */
  readonly greeting: string;
  /** EHLO keywords (upper case) and their parameters; empty after HELO. */
  readonly extensions: ReadonlyMap<string, string>;
  /** TLS is in use. */
  readonly secure: boolean;
  /** TLS is in use and the certificate was verified. */
  readonly verified: boolean;
  /** The connection is open and can carry another message. */
  readonly usable: boolean;
  /** Sends one message; one outcome per recipient, in envelope order. Never throws on SMTP trouble. */
  send(message: ClientMessage, signal?: AbortSignal): Promise<Outcome[]>;
  /** Sends QUIT and closes. */
  close(): Promise<void>;
}

/** Opens a session; throws SmtpError when the server cannot be reached or refuses the session. */
export async function openSmtpClient(options: SmtpClientOptions): Promise<SmtpClient> {
  const mode = options.tls ?? 'opportunistic';
  try {
    return await openSession(options, mode);
  } catch (error) {
    if (mode === 'opportunistic' && error instanceof TlsHandshakeError) {
      return openSession(options, 'none');
    }
    throw error;
  }
}

function is2xx(reply: Reply): boolean {
  return reply.code >= 200 && reply.code < 300;
}

/** A reply that is not the expected success, as an SmtpError (non-4xx/5xx become 451 4.5.0). */
function replyError(reply: Reply, host: string): SmtpError {
  if (reply.code >= 400 && reply.code < 600) return SmtpError.fromReply(reply.code, reply.lines);
  return new SmtpError(451, '4.5.0', `Unexpected reply from ${host}: ${formatReply(reply)}`);
}

function parseExtensions(reply: Reply): Map<string, string> {
  const extensions = new Map<string, string>();
  for (const line of reply.lines.slice(1)) {
    const [keyword = '', ...params] = line.trim().split(/\s+/);
    if (keyword) extensions.set(keyword.toUpperCase(), params.join(' '));
  }
  return extensions;
}

async function openSession(options: SmtpClientOptions, mode: ClientTlsMode): Promise<SmtpClient> {
  const timeouts = resolveTimeouts(options.timeouts);
  const host = options.host;
  const port = options.port ?? (mode === 'implicit' ? 465 : 25);
  const localName = options.localName ?? hostname();
  const verify = options.verifyCertificate ?? (mode === 'required' || mode === 'implicit');
  const tlsOptions: ConnectionTlsOptions = {
    ...options.tlsOptions,
    servername: options.servername ?? options.tlsOptions?.servername,
    rejectUnauthorized: verify,
  };

  const connection = await SmtpConnection.open({
    host,
    port,
    connectTimeout: timeouts.connect,
    ...(mode === 'implicit' ? { implicitTls: tlsOptions } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const onAbort = () => connection.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const greeting = await connection.readReply(timeouts.greeting, 'greeting');
    // RFC 5321 §3.1: anything but 220 means "no service"; 4xx/5xx greetings send the caller on
    // to the next MX host.
    if (greeting.code !== 220) throw replyError(greeting, host);

    const hello = async (): Promise<Map<string, string>> => {
      const ehlo = await connection.command(`EHLO ${localName}`, timeouts.command, 'EHLO');
      if (is2xx(ehlo)) return parseExtensions(ehlo);
      // §4.1.4: a server that does not know EHLO answers 5xx; then HELO. 421 means go away.
      if (ehlo.code === 421 || ehlo.code < 500) throw replyError(ehlo, host);
      const helo = await connection.command(`HELO ${localName}`, timeouts.command, 'HELO');
      if (!is2xx(helo)) throw replyError(helo, host);
      return new Map();
    };

    let extensions = await hello();
    if ((mode === 'opportunistic' || mode === 'required') && !connection.secure) {
      if (extensions.has('STARTTLS')) {
        const reply = await connection.command('STARTTLS', timeouts.command, 'STARTTLS');
        if (reply.code === 220) {
          await connection.startTls(tlsOptions, timeouts.command);
          // RFC 3207 §4.2: forget everything learned before TLS and say EHLO again.
          extensions = await hello();
        } else if (mode === 'required') {
          throw new SmtpError(451, '4.7.0', `STARTTLS refused by ${host}`, {
            cause: replyError(reply, host),
          });
        }
      } else if (mode === 'required') {
        throw new SmtpError(451, '4.7.0', `TLS is required but ${host} does not offer STARTTLS`);
      }
    }

    if (options.auth) {
      if (!connection.secure && mode !== 'none') {
        throw new SmtpError(451, '4.7.0', `Refusing to send credentials to ${host} without TLS`);
      }
      await authenticate(connection, options.auth, extensions, timeouts.command);
    }

    options.signal?.removeEventListener('abort', onAbort);
    return new Session(connection, formatReply(greeting), extensions, timeouts);
  } catch (error) {
    options.signal?.removeEventListener('abort', onAbort);
    await connection.quit(timeouts.quit);
    throw SmtpError.from(error);
  }
}

async function authenticate(
  connection: SmtpConnection,
  auth: SmtpAuthOptions,
  extensions: ReadonlyMap<string, string>,
  timeoutMs: number,
): Promise<void> {
  const offered = new Set((extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/));
  const method = auth.method ?? (offered.has('PLAIN') ? 'PLAIN' : offered.has('LOGIN') ? 'LOGIN' : undefined);
  if (!method || !offered.has(method)) {
    throw new SmtpError(
      451,
      '4.7.0',
      `${connection.host} does not offer AUTH ${auth.method ?? 'PLAIN or LOGIN'}`,
    );
  }
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  let reply: Reply;
  if (method === 'PLAIN') {
    reply = await connection.command(
      `AUTH PLAIN ${b64(`\0${auth.username}\0${auth.password}`)}`,
      timeoutMs,
      'AUTH',
    );
  } else {
    reply = await connection.command('AUTH LOGIN', timeoutMs, 'AUTH');
    if (reply.code === 334) reply = await connection.command(b64(auth.username), timeoutMs, 'AUTH');
    if (reply.code === 334) reply = await connection.command(b64(auth.password), timeoutMs, 'AUTH');
  }
  if (reply.code !== 235) {
    // Wrong credentials are our configuration problem, not the recipients': defer (Postfix's
    // smtp_sasl_auth_soft_bounce), keeping the remote reply as the cause.
    throw new SmtpError(451, '4.7.8', `Authentication to ${connection.host} failed`, {
      cause: replyError(reply, connection.host),
    });
  }
}

class Session implements SmtpClient {
  readonly greeting: string;
  readonly extensions: ReadonlyMap<string, string>;
  readonly #connection: SmtpConnection;
  readonly #timeouts: SmtpTimeouts;
  /**
   * A transaction was started and not ended by a 2xx to the end of data: RSET before the next
   * one. After that 2xx the server has cleared its state (RFC 5321 §4.1.1.4), so a reused
   * connection goes straight on to MAIL, one round trip less per message.
   */
  #dirty = false;
  #busy = false;

  constructor(
    connection: SmtpConnection,
    greeting: string,
    extensions: ReadonlyMap<string, string>,
    timeouts: SmtpTimeouts,
  ) {
    this.#connection = connection;
    this.greeting = greeting;
    this.extensions = extensions;
    this.#timeouts = timeouts;
  }

  get host(): string {
    return this.#connection.host;
  }

  get port(): number {
    return this.#connection.port;
  }

  get secure(): boolean {
    return this.#connection.secure;
  }

  get verified(): boolean {
    return this.#connection.authorized;
  }

  get usable(): boolean {
    return this.#connection.open && !this.#busy;
  }

  async send(message: ClientMessage, signal?: AbortSignal): Promise<Outcome[]> {
    const { envelope } = message;
    const rcpts = envelope.rcptTo.map((r) => formatAddress(r.address));
    const outcomes: (Outcome | undefined)[] = rcpts.map(() => undefined);
    const rest = (error: unknown): Outcome[] => rcpts.map((rcpt, i) => outcomes[i] ?? failed(rcpt, error));
    if (this.#busy) throw new Error('SmtpClient.send called while another send is in progress');
    if (!this.#connection.open) return rest(new SmtpError(451, '4.4.2', `Connection to ${this.host} lost`));

    this.#busy = true;
    const connection = this.#connection;
    const t = this.#timeouts;
    const onAbort = () => connection.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) throw signal.reason;
      if (this.#dirty) {
        const reset = await connection.command('RSET', t.command, 'RSET');
        if (!is2xx(reset)) {
          connection.close();
          return rest(replyError(reset, this.host));
        }
      }

      // RFC 6531 §3.2: without SMTPUTF8 at the server, such a message cannot be sent at all.
      const utf8Address =
        needsSmtputf8(envelope.mailFrom) || envelope.rcptTo.some((r) => needsSmtputf8(r.address));
      const utf8 = utf8Address || envelope.params.smtputf8 === true;
      if (utf8 && !this.extensions.has('SMTPUTF8')) {
        return rest(
          new SmtpError(
            utf8Address ? 553 : 554,
            '5.6.7',
            `${this.host} does not support SMTPUTF8, required by this ${utf8Address ? 'address' : 'message'}`,
          ),
        );
      }

      // RFC 1870 §6: a message larger than the server's declared maximum would be refused.
      let size = message.size ?? envelope.params.size;
      if (this.extensions.has('SIZE')) {
        size ??= await measureMessage(message.message);
        const limit = Number.parseInt(this.extensions.get('SIZE') ?? '', 10);
        if (limit > 0 && size > limit) {
          return rest(
            new SmtpError(552, '5.3.4', `Message size ${size} exceeds the limit of ${this.host} (${limit})`),
          );
        }
      }

      const mailLine = this.#mailCommand(envelope, utf8, size);
      const rcptLines = envelope.rcptTo.map((r) => this.#rcptCommand(r));
      this.#dirty = true;
      let mailReply: Reply;
      const rcptReplies: Reply[] = [];
      let dataReply: Reply | null = null;
      if (this.extensions.has('PIPELINING')) {
        // RFC 2920 §3.1: MAIL, every RCPT and DATA (last) in one group; replies come back in order,
        // and a server refuses DATA (554) when it accepted no recipient. One round trip, not two.
        connection.write([mailLine, ...rcptLines, 'DATA']);
        mailReply = await connection.readReply(t.mail, 'MAIL');
        for (const _ of rcptLines) rcptReplies.push(await connection.readReply(t.rcpt, 'RCPT'));
        dataReply = await connection.readReply(t.dataInit, 'DATA');
      } else {
        mailReply = await connection.command(mailLine, t.mail, 'MAIL');
        if (is2xx(mailReply)) {
          for (const line of rcptLines) rcptReplies.push(await connection.command(line, t.rcpt, 'RCPT'));
        }
      }

      const accepted: number[] = [];
      if (is2xx(mailReply)) {
        rcptReplies.forEach((reply, i) => {
          if (is2xx(reply)) accepted.push(i);
          else outcomes[i] = failed(rcpts[i] ?? '', replyError(reply, this.host));
        });
      }
      if (accepted.length === 0) {
        // A server that went into data mode anyway gets an empty message, ended at once (RFC 2920 §3.1).
        if (dataReply?.code === 354) {
          connection.write(['.']);
          await connection.readReply(t.dataEnd, 'end of data');
        }
        if (!is2xx(mailReply)) return rest(replyError(mailReply, this.host));
        return rest(new SmtpError(451, '4.3.0', 'No recipient accepted'));
      }

      dataReply ??= await connection.command('DATA', t.dataInit, 'DATA');
      if (dataReply.code !== 354) {
        if (dataReply.code < 400) connection.close();
        return rest(replyError(dataReply, this.host));
      }
      await connection.writeData(encodeStream(message.message, new DataEncoder()), t.dataBlock);
      const final = await connection.readReply(t.dataEnd, 'end of data');
      if (!is2xx(final)) return rest(replyError(final, this.host));
      this.#dirty = false;
      const text = formatReply(final);
      for (const i of accepted) outcomes[i] = delivered(rcpts[i] ?? '', text);
      // Every recipient has its outcome now, as a rule: no error (and its stack) is built for none.
      if (outcomes.every((outcome) => outcome !== undefined)) return outcomes as Outcome[];
      return rest(new SmtpError(451, '4.3.0', 'No outcome'));
    } catch (error) {
      // The state of the conversation is unknown: never reuse this connection.
      connection.close();
      if (signal?.aborted) {
        return rest(new SmtpError(451, '4.3.0', 'Delivery aborted', { cause: signal.reason }));
      }
      return rest(SmtpError.from(error));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#busy = false;
    }
  }

  #mailCommand(envelope: Envelope, utf8: boolean, size: number | undefined): string {
    const params: string[] = [];
    const ext = this.extensions;
    if (ext.has('SIZE') && size !== undefined) params.push(`SIZE=${size}`);
    if (envelope.params.body === '8BITMIME' && ext.has('8BITMIME')) params.push('BODY=8BITMIME');
    if (utf8) params.push('SMTPUTF8');
    if (ext.has('DSN')) {
      if (envelope.params.ret) params.push(`RET=${envelope.params.ret}`);
      if (envelope.params.envid) params.push(`ENVID=${encodeXtext(envelope.params.envid)}`);
    }
    return [`MAIL FROM:<${formatAddress(envelope.mailFrom)}>`, ...params].join(' ');
  }

  #rcptCommand(recipient: Recipient): string {
    const params: string[] = [];
    if (this.extensions.has('DSN')) {
      if (recipient.notify) {
        params.push(`NOTIFY=${recipient.notify === 'NEVER' ? 'NEVER' : recipient.notify.join(',')}`);
      }
      if (recipient.orcpt) {
        const semi = recipient.orcpt.indexOf(';');
        if (semi > 0) {
          params.push(
            `ORCPT=${recipient.orcpt.slice(0, semi)};${encodeXtext(recipient.orcpt.slice(semi + 1))}`,
          );
        }
      }
    }
    return [`RCPT TO:<${formatAddress(recipient.address)}>`, ...params].join(' ');
  }

  async close(): Promise<void> {
    await this.#connection.quit(this.#timeouts.quit);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
