// A scripted SMTP server on loopback for testing SMTP clients (RFC 5321 §4.1 commands and §4.2
// replies, RFC 2920 PIPELINING, RFC 3207 STARTTLS, RFC 4954 AUTH PLAIN/LOGIN). Written on node:net
// rather than smtp-server because it must be able to misbehave: answer anything to anything,
// stay silent, drop the connection mid-DATA, greet slowly, or lack extensions. It records every
// byte it receives, every command line, and every transaction with its DATA exactly as received.

import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * A reply: `'250 2.0.0 OK'`, or several lines joined by `\n` (the peer writes `NNN-` on all but
 * the last); `'drop'` closes the connection instead; `'silent'` never answers; `{ raw }` is
 * written byte for byte; `{ delayMs, reply }` waits first.
 */
export type PeerReply =
  | string
  | { readonly raw: string }
  | { readonly delayMs: number; readonly reply: PeerReply };

/**
 * How a command is answered: one reply for every occurrence; a list consumed in order over the
 * peer's whole life (then the default applies: `['451 4.2.1 busy']` answers 451 to the first
 * occurrence only); or a function (returning `undefined` means the default).
 */
export type PeerRule =
  | PeerReply
  | readonly PeerReply[]
  | ((command: PeerCommand, session: PeerSession) => PeerReply | undefined);

export interface PeerScript {
  readonly greeting?: PeerRule;
  /** Waits this long before greeting (a slow server). */
  readonly greetingDelayMs?: number;
  /** E.g. `'502 5.5.2 Command not recognized'` for a HELO-only server. */
  readonly ehlo?: PeerRule;
  readonly helo?: PeerRule;
  readonly starttls?: PeerRule;
  readonly mail?: PeerRule;
  readonly rcpt?: PeerRule;
  /** The reply to the DATA command (default 354, or 554 without an accepted recipient). */
  readonly data?: PeerRule;
  /** The reply after the end of data. */
  readonly dataEnd?: PeerRule;
  readonly rset?: PeerRule;
  readonly noop?: PeerRule;
  readonly quit?: PeerRule;
  /** Unknown commands (default 502). */
  readonly other?: PeerRule;
  /**
   * EHLO keywords. Default: PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, SIZE 10485760,
   * plus STARTTLS when `tls` is set (before TLS) and AUTH PLAIN LOGIN when `auth` is set.
   */
  readonly extensions?: readonly string[];
  /** Closes the connection as soon as the first DATA bytes arrive. */
  readonly dropMidData?: boolean;
  /** A certificate: STARTTLS is offered and works (or, with `implicitTls`, TLS from the start). */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Speak TLS from the first byte (port 465 style, RFC 8314); needs `tls`. */
  readonly implicitTls?: boolean;
  /** AUTH PLAIN and LOGIN are offered; with `users`, only those credentials are accepted. */
  readonly auth?: { readonly users?: Readonly<Record<string, string>> };
  /** Listen address (default 127.0.0.1) and port (default 0: any free port). */
  readonly host?: string;
  readonly port?: number;
  /** The host name in the greeting and EHLO reply (default `peer.test`). */
  readonly name?: string;
}

export interface PeerCommand {
  /** The line as received, without its line ending. */
  readonly line: string;
  /** Upper-case command word, e.g. `MAIL`. */
  readonly verb: string;
  /** It arrived before the reply to the previous command (or data, or greeting) was written. */
  readonly pipelined: boolean;
}

export interface PeerTransaction {
  readonly session: number;
  /** The MAIL command line as received. */
  readonly mailFrom: string;
  /** Every RCPT command line as received, accepted or not. */
  readonly rcptTo: string[];
  /** The RCPT lines that got a 2xx reply. */
  readonly accepted: string[];
  /** The bytes after the 354 reply up to and including the final CRLF.CRLF (or up to a drop). */
  data: Buffer | null;
  /** `data` without dot-stuffing and without the terminating `.CRLF`. */
  content: Buffer | null;
  /** The end of data arrived. */
  ended: boolean;
  /** The reply line sent after the end of data. */
  dataReply: string | null;
  readonly tls: boolean;
}

export interface PeerSession {
  readonly index: number;
  readonly commands: PeerCommand[];
  /** Every chunk received, as received (ciphertext excluded: after STARTTLS, the plaintext). */
  readonly chunks: Buffer[];
  tls: boolean;
  auth: { readonly mechanism: string; readonly username: string; readonly password: string } | null;
  heloName: string | null;
  closed: boolean;
}

export interface SmtpPeer {
  readonly host: string;
  readonly port: number;
  /** `host:port` */
  readonly address: string;
  readonly sessions: readonly PeerSession[];
  readonly transactions: readonly PeerTransaction[];
  /** Every command line of every session, in order. */
  readonly commands: readonly string[];
  /** Resolves once `count` transactions have ended (or rejects after `timeoutMs`, default 10 s). */
  waitForTransactions(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves once `count` sessions have closed. */
  waitForClosedSessions(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const DROP = 'drop';
const SILENT = 'silent';

type RuleName = Exclude<
  keyof PeerScript,
  'greetingDelayMs' | 'extensions' | 'dropMidData' | 'tls' | 'implicitTls' | 'auth' | 'host' | 'port' | 'name'
>;

class Disconnected extends Error {}

/** Reads lines and data from a socket that may be swapped for a TLS one mid-session. */
class Input {
  #buffer = Buffer.alloc(0);
  /** For each received chunk: where it ends in #buffer, and how many units were answered then. */
  #marks: { end: number; answered: number }[] = [];
  #waiter: (() => void) | null = null;
  #closed = false;
  answered = 0;

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#marks.push({ end: this.#buffer.length, answered: this.answered });
    this.#wake();
  }

  end(): void {
    this.#closed = true;
    this.#wake();
  }

  /** Drops anything buffered (after STARTTLS, plaintext sent early must not count). */
  clear(): void {
    this.#buffer = Buffer.alloc(0);
    this.#marks = [];
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  async #more(): Promise<void> {
    if (this.#closed) throw new Disconnected();
    await new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
  }

  #take(length: number): { bytes: Buffer; answered: number } {
    const bytes = this.#buffer.subarray(0, length);
    const mark = this.#marks.find((m) => m.end >= length);
    this.#buffer = this.#buffer.subarray(length);
    this.#marks = this.#marks.map((m) => ({ ...m, end: m.end - length })).filter((m) => m.end > 0);
    return { bytes, answered: mark?.answered ?? this.answered };
  }

  async line(): Promise<{ line: string; answered: number }> {
    for (;;) {
      const lf = this.#buffer.indexOf(0x0a);
      if (lf >= 0) {
        const { bytes, answered } = this.#take(lf + 1);
        return { line: bytes.toString('utf8').replace(/\r?\n$/, ''), answered };
      }
      await this.#more();
    }
  }

  /** Resolves with the data up to and including CRLF.CRLF; `onFirstBytes` runs once bytes arrive. */
  async data(onFirstBytes: (bytes: Buffer) => boolean): Promise<Buffer> {
    let notified = false;
    for (;;) {
      if (this.#buffer.length > 0 && !notified) {
        notified = true;
        if (onFirstBytes(this.#buffer)) throw new Disconnected();
      }
      if (this.#buffer.subarray(0, 3).equals(Buffer.from('.\r\n'))) return this.#take(3).bytes;
      const end = this.#buffer.indexOf('\r\n.\r\n');
      if (end >= 0) return this.#take(end + 5).bytes;
      await this.#more();
    }
  }

  peek(): Buffer {
    return this.#buffer;
  }
}

function unstuff(data: Buffer): Buffer {
  const text = data.toString('latin1');
  const body = text.endsWith('.\r\n') ? text.slice(0, -3) : text;
  return Buffer.from(body.replace(/(^|\r\n)\.\./g, '$1.'), 'latin1');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function startPeer(script: PeerScript = {}): Promise<SmtpPeer> {
  const name = script.name ?? 'peer.test';
  const sessions: PeerSession[] = [];
  const transactions: PeerTransaction[] = [];
  const commands: string[] = [];
  const counters = new Map<RuleName, number>();
  const sockets = new Set<Socket>();
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };

  const pick = (
    rule: RuleName,
    command: PeerCommand,
    session: PeerSession,
    fallback: PeerReply,
  ): PeerReply => {
    const value = script[rule] as PeerRule | undefined;
    if (value === undefined) return fallback;
    if (typeof value === 'function') return value(command, session) ?? fallback;
    if (Array.isArray(value)) {
      const index = counters.get(rule) ?? 0;
      counters.set(rule, index + 1);
      return (value[index] as PeerReply | undefined) ?? fallback;
    }
    return value as PeerReply;
  };

  const serve = async (raw: Socket, session: PeerSession): Promise<void> => {
    let socket: Socket = raw;
    const input = new Input();
    const onData = (chunk: Buffer) => {
      session.chunks.push(chunk);
      input.push(chunk);
    };
    const onEnd = () => input.end();
    const attach = (s: Socket) => {
      s.on('data', onData);
      s.on('end', onEnd);
      s.on('close', onEnd);
      s.on('error', onEnd);
    };
    attach(raw);

    /** Writes a reply; returns false when the session must stop (drop or silence). */
    const send = async (reply: PeerReply): Promise<boolean> => {
      if (typeof reply === 'object' && 'delayMs' in reply) {
        await delay(reply.delayMs);
        return send(reply.reply);
      }
      if (reply === DROP) {
        socket.destroy();
        return false;
      }
      if (reply === SILENT) {
        await new Promise<void>((resolve) => socket.once('close', () => resolve()));
        return false;
      }
      let bytes: string;
      if (typeof reply === 'object') bytes = reply.raw;
      else {
        const lines = reply.split('\n');
        bytes = lines
          .map((line, i) => (i < lines.length - 1 ? `${line.slice(0, 3)}-${line.slice(4)}` : line))
          .map((line) => `${line}\r\n`)
          .join('');
      }
      if (!socket.destroyed) socket.write(bytes);
      input.answered++;
      return true;
    };

    const ehloReply = (): string => {
      const keywords = script.extensions ?? [
        'PIPELINING',
        '8BITMIME',
        'SMTPUTF8',
        'ENHANCEDSTATUSCODES',
        'SIZE 10485760',
        ...(script.tls && !session.tls ? ['STARTTLS'] : []),
        ...(script.auth ? ['AUTH PLAIN LOGIN'] : []),
      ];
      return [`250 ${name} Hello`, ...keywords.map((k) => `250 ${k}`)].join('\n');
    };

    let transaction: PeerTransaction | null = null;
    try {
      if (script.greetingDelayMs) await delay(script.greetingDelayMs);
      const greetingCommand: PeerCommand = { line: '', verb: '', pipelined: false };
      if (!(await send(pick('greeting', greetingCommand, session, `220 ${name} ESMTP mailyard-testkit`)))) {
        return;
      }
      for (;;) {
        const unit = input.answered;
        const { line, answered } = await input.line();
        const verb = (/^\S*/.exec(line)?.[0] ?? '').toUpperCase();
        const command: PeerCommand = { line, verb, pipelined: answered < unit };
        session.commands.push(command);
        commands.push(line);
        let reply: PeerReply;
        switch (verb) {
          case 'EHLO':
            reply = pick('ehlo', command, session, ehloReply());
            if (typeof reply === 'string' && reply.startsWith('2')) session.heloName = line.slice(5).trim();
            break;
          case 'HELO':
            reply = pick('helo', command, session, `250 ${name}`);
            if (typeof reply === 'string' && reply.startsWith('2')) session.heloName = line.slice(5).trim();
            break;
          case 'STARTTLS': {
            const tls = script.tls;
            reply = pick(
              'starttls',
              command,
              session,
              tls && !session.tls ? '220 2.0.0 Ready to start TLS' : '454 4.7.0 TLS not available',
            );
            if (tls && typeof reply === 'string' && reply.startsWith('220')) {
              if (!(await send(reply))) return;
              // RFC 3207 §4.2: discard anything the client sent before the handshake.
              input.clear();
              socket.off('data', onData);
              const secure = new TLSSocket(socket, { isServer: true, key: tls.key, cert: tls.cert });
              socket = secure;
              attach(secure);
              session.tls = true;
              session.heloName = null;
              transaction = null;
              continue;
            }
            break;
          }
          case 'AUTH': {
            if (!script.auth) {
              reply = '502 5.5.1 AUTH not available';
              break;
            }
            const [, mechanism = '', initial] = line.split(/\s+/);
            const challenge = async (prompt: string): Promise<string> => {
              if (!(await send({ raw: `334 ${prompt}\r\n` }))) throw new Disconnected();
              input.answered--;
              return (await input.line()).line;
            };
            let username = '';
            let password = '';
            const mech = mechanism.toUpperCase();
            if (mech === 'PLAIN') {
              const response = initial ?? (await challenge(''));
              const parts = Buffer.from(response, 'base64').toString('utf8').split('\0');
              username = parts[1] ?? '';
              password = parts[2] ?? '';
            } else if (mech === 'LOGIN') {
              const user = initial ?? (await challenge(Buffer.from('Username:').toString('base64')));
              username = Buffer.from(user, 'base64').toString('utf8');
              password = Buffer.from(
                await challenge(Buffer.from('Password:').toString('base64')),
                'base64',
              ).toString('utf8');
            } else {
              reply = '504 5.5.4 Unrecognized authentication type';
              break;
            }
            const users = script.auth.users;
            if (!users || users[username] === password) {
              session.auth = { mechanism: mech, username, password };
              reply = '235 2.7.0 Authentication successful';
            } else {
              reply = '535 5.7.8 Authentication credentials invalid';
            }
            break;
          }
          case 'MAIL':
            reply = pick('mail', command, session, '250 2.1.0 OK');
            if (typeof reply === 'string' && reply.startsWith('2')) {
              transaction = {
                session: session.index,
                mailFrom: line,
                rcptTo: [],
                accepted: [],
                data: null,
                content: null,
                ended: false,
                dataReply: null,
                tls: session.tls,
              };
              transactions.push(transaction);
            }
            break;
          case 'RCPT':
            reply = transaction
              ? pick('rcpt', command, session, '250 2.1.5 OK')
              : '503 5.5.1 Error: need MAIL command';
            transaction?.rcptTo.push(line);
            if (transaction && typeof reply === 'string' && reply.startsWith('2')) {
              transaction.accepted.push(line);
            }
            break;
          case 'DATA': {
            const fallback = !transaction
              ? '503 5.5.1 Error: need MAIL command'
              : transaction.accepted.length === 0
                ? '554 5.5.1 Error: no valid recipients'
                : '354 End data with <CR><LF>.<CR><LF>';
            reply = pick('data', command, session, fallback);
            if (transaction && typeof reply === 'string' && reply.startsWith('354')) {
              if (!(await send(reply))) return;
              const current = transaction;
              transaction = null;
              let data: Buffer;
              try {
                data = await input.data((first) => {
                  if (!script.dropMidData) return false;
                  current.data = Buffer.from(first);
                  socket.destroy();
                  return true;
                });
              } catch (error) {
                if (!current.data) current.data = Buffer.from(input.peek());
                notify();
                throw error;
              }
              current.data = data;
              current.content = unstuff(data);
              current.ended = true;
              const end = pick('dataEnd', command, session, '250 2.0.0 OK queued');
              current.dataReply = typeof end === 'string' && end !== DROP && end !== SILENT ? end : null;
              notify();
              if (!(await send(end))) return;
              continue;
            }
            break;
          }
          case 'RSET':
            transaction = null;
            reply = pick('rset', command, session, '250 2.0.0 OK');
            break;
          case 'NOOP':
            reply = pick('noop', command, session, '250 2.0.0 OK');
            break;
          case 'QUIT':
            reply = pick('quit', command, session, '221 2.0.0 Bye');
            if (!(await send(reply))) return;
            socket.end();
            return;
          default:
            reply = pick('other', command, session, '502 5.5.2 Error: command not recognized');
        }
        if (!(await send(reply))) return;
      }
    } catch (error) {
      if (!(error instanceof Disconnected)) socket.destroy(error as Error);
    }
  };

  const server: Server = createServer((plain) => {
    const tls = script.implicitTls ? script.tls : undefined;
    const socket = tls ? new TLSSocket(plain, { isServer: true, key: tls.key, cert: tls.cert }) : plain;
    sockets.add(plain);
    const session: PeerSession = {
      index: sessions.length,
      commands: [],
      chunks: [],
      tls: tls !== undefined,
      auth: null,
      heloName: null,
      closed: false,
    };
    sessions.push(session);
    socket.on('error', () => {});
    plain.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(plain);
      session.closed = true;
      notify();
    });
    void serve(socket, session);
  });

  const host = script.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(script.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const waitFor = (done: () => boolean, what: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
    });

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
    return closed;
  };

  return {
    host,
    port,
    address: `${host}:${port}`,
    sessions,
    transactions,
    commands,
    waitForTransactions: (count, timeoutMs = 10_000) =>
      waitFor(
        () => transactions.filter((t) => t.ended || t.data !== null).length >= count,
        `${count} transactions`,
        timeoutMs,
      ),
    waitForClosedSessions: (count, timeoutMs = 10_000) =>
      waitFor(() => sessions.filter((s) => s.closed).length >= count, `${count} closed sessions`, timeoutMs),
    close,
    [Symbol.asyncDispose]: close,
  };
}
