// One client-side SMTP connection: the socket, reply parsing (RFC 5321 §4.2: `NNN-` continuation
// lines, `NNN ` final line), writes with backpressure, per-stage timeouts (§4.5.3.2) and the
// STARTTLS upgrade (RFC 3207). It knows nothing of transactions; smtp-client.ts drives it.
// Every failure surfaces as an SmtpError: connection and timeout problems are temporary (4.4.x).

import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { SmtpError } from '../smtp-error.ts';

export interface Reply {
  readonly code: number;
  /** The text of each line, without the code and separator. */
  readonly lines: readonly string[];
}

export function formatReply(reply: Reply): string {
  return `${reply.code} ${reply.lines.join(' ')}`.trim();
}

/** TLS settings for implicit TLS or STARTTLS. */
export interface ConnectionTlsOptions extends Omit<ConnectionOptions, 'socket' | 'host' | 'port'> {}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeout: number;
  /** Implicit TLS (port 465 style) with these settings. */
  readonly implicitTls?: ConnectionTlsOptions;
  readonly signal?: AbortSignal;
}

/** Longest reply line we accept: RFC 5321 §4.5.3.1.5 says 512; be generous, but bounded. */
const MAX_LINE = 8192;
const MAX_LINES = 1000;

/** Thrown when a TLS handshake fails, so opportunistic TLS can tell it from other failures. */
export class TlsHandshakeError extends SmtpError {
  constructor(host: string, cause: unknown) {
    super(451, '4.7.5', `TLS handshake with ${host} failed`, { cause });
    this.name = 'TlsHandshakeError';
  }
}

function connectionLost(host: string, cause?: unknown): SmtpError {
  return new SmtpError(451, '4.4.2', `Connection to ${host} lost`, { cause });
}

export class SmtpConnection {
  readonly host: string;
  readonly port: number;
  #socket: Socket;
  #buffer = '';
  /** Keeps a UTF-8 sequence split across chunks whole (SMTPUTF8 servers may reply in UTF-8). */
  readonly #decoder = new StringDecoder('utf8');
  #lines: string[] = [];
  #replies: Reply[] = [];
  #waiter: (() => void) | null = null;
  #failure: SmtpError | null = null;
  #secure: boolean;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);
  readonly #onClose = () => this.#fail(connectionLost(this.host));
  readonly #onError = (error: Error) => this.#fail(connectionLost(this.host, error));

  private constructor(socket: Socket, host: string, port: number, secure: boolean) {
    this.#socket = socket;
    this.host = host;
    this.port = port;
    this.#secure = secure;
    this.#attach(socket);
  }

  /** Opens a TCP (or implicit TLS) connection. Throws SmtpError 451 4.4.1 when it cannot. */
  static async open(options: ConnectOptions): Promise<SmtpConnection> {
    const { host, port, implicitTls, signal } = options;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const socket: Socket = implicitTls
        ? tlsConnect({ ...implicitTls, host, port, servername: serverName(implicitTls.servername, host) })
        : tcpConnect({ host, port });
      const ready = implicitTls ? 'secureConnect' : 'connect';
      const cleanup = () => {
        clearTimeout(timer);
        socket.off(ready, onReady);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: SmtpError) => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onReady = () => {
        cleanup();
        resolve(socket);
      };
      const onError = (error: Error) =>
        fail(
          implicitTls && (socket as TLSSocket).connecting === false
            ? new TlsHandshakeError(host, error)
            : new SmtpError(451, '4.4.1', `Cannot connect to ${host}:${port}`, { cause: error }),
        );
      const onAbort = () =>
        fail(new SmtpError(451, '4.4.1', 'Connection aborted', { cause: signal?.reason }));
      const timer = setTimeout(
        () => fail(new SmtpError(451, '4.4.1', `Timeout connecting to ${host}:${port}`)),
        options.connectTimeout,
      );
      socket.once(ready, onReady);
      socket.once('error', onError);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    socket.setNoDelay(true);
    return new SmtpConnection(socket, host, port, Boolean(implicitTls));
  }

  get secure(): boolean {
    return this.#secure;
  }

  /** False once the connection failed or was closed. */
  get open(): boolean {
    return this.#failure === null && !this.#socket.destroyed;
  }

  /** The peer certificate was verified against the configured CAs (after TLS). */
  get authorized(): boolean {
    return this.#secure && (this.#socket as TLSSocket).authorized === true;
  }

  #attach(socket: Socket): void {
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  #detach(socket: Socket): void {
    socket.off('data', this.#onData);
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  #fail(error: SmtpError): void {
    this.#failure ??= error;
    this.#socket.destroy();
    this.#wake();
  }

  #receive(chunk: Buffer): void {
    this.#buffer += this.#decoder.write(chunk);
    for (;;) {
      const lf = this.#buffer.indexOf('\n');
      if (lf < 0) break;
      const line = this.#buffer.slice(0, lf).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(lf + 1);
      const match = /^(\d{3})([ -]|$)(.*)$/.exec(line);
      if (!match || this.#lines.length > MAX_LINES) {
        this.#fail(new SmtpError(451, '4.5.0', `Malformed reply from ${this.host}`));
        return;
      }
      this.#lines.push(line);
      if (match[2] !== '-') {
        const code = Number(match[1]);
        this.#replies.push({ code, lines: this.#lines.map((l) => l.slice(4)) });
        this.#lines = [];
      }
    }
    if (this.#buffer.length > MAX_LINE) {
      this.#fail(new SmtpError(451, '4.5.0', `Reply line from ${this.host} too long`));
      return;
    }
    this.#wake();
  }

  /** Waits for the next reply; throws SmtpError 451 4.4.2 on timeout or a lost connection. */
  async readReply(timeoutMs: number, stage: string): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.#replies.shift();
      if (reply) return reply;
      if (this.#failure) throw this.#failure;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const error = new SmtpError(451, '4.4.2', `Timeout waiting for ${stage} reply from ${this.host}`);
        this.#fail(error);
        throw error;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Writes command lines (each without CRLF) in one write: one line, or a pipelined group. */
  write(lines: readonly string[]): void {
    if (this.#failure) throw this.#failure;
    this.#socket.write(lines.map((line) => `${line}\r\n`).join(''));
  }

  async command(line: string, timeoutMs: number, stage: string): Promise<Reply> {
    this.write([line]);
    return this.readReply(timeoutMs, stage);
  }

  /**
   * Streams already-encoded DATA; each write must drain within `blockTimeoutMs`. Chunks are taken
   * as events (an async iterator would join every chunk waiting into a new buffer) and those that
   * come in one turn of the event loop leave corked, as one writev: no copy, one syscall.
   */
  writeData(data: Readable, blockTimeoutMs: number): Promise<void> {
    const socket = this.#socket;
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let corked = false;
      let settled = false;
      const uncork = (): void => {
        if (!corked) return;
        corked = false;
        socket.uncork();
      };
      const settle = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        data.off('data', onData);
        data.off('end', onEnd);
        data.off('error', onError);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        uncork();
        if (error === undefined) resolve();
        else {
          data.destroy();
          reject(error);
        }
      };
      const onData = (chunk: Buffer): void => {
        if (this.#failure) {
          settle(this.#failure);
          return;
        }
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        if (socket.write(chunk)) return;
        data.pause();
        timer = setTimeout(() => {
          const error = new SmtpError(451, '4.4.2', `Timeout sending data to ${this.host}`);
          this.#fail(error);
          settle(error);
        }, blockTimeoutMs);
      };
      const onDrain = (): void => {
        clearTimeout(timer);
        data.resume();
      };
      const onEnd = (): void => settle();
      const onError = (error: unknown): void => settle(error);
      const onClose = (): void => settle(this.#failure ?? connectionLost(this.host));
      if (this.#failure) {
        settle(this.#failure);
        return;
      }
      socket.on('drain', onDrain);
      socket.on('close', onClose);
      data.on('error', onError);
      data.on('end', onEnd);
      data.on('data', onData);
    });
  }

  /**
   * Upgrades to TLS after a 220 reply to STARTTLS. Anything the server sent after that reply is
   * an injection attempt (CVE-2011-0411 style) and fails the connection.
   */
  async startTls(options: ConnectionTlsOptions, timeoutMs: number): Promise<void> {
    if (this.#buffer.length > 0 || this.#replies.length > 0) {
      const error = new SmtpError(451, '4.5.0', `${this.host} sent data after its STARTTLS reply`);
      this.#fail(error);
      throw error;
    }
    const plain = this.#socket;
    this.#detach(plain);
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const socket = tlsConnect({
        ...options,
        socket: plain,
        servername: serverName(options.servername, this.host),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TlsHandshakeError(this.host, new Error('handshake timeout')));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(socket);
      });
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new TlsHandshakeError(this.host, error));
      };
      socket.once('error', onError);
    }).catch((error: SmtpError) => {
      this.#failure ??= error;
      plain.destroy();
      throw error;
    });
    this.#socket = secure;
    this.#secure = true;
    this.#attach(secure);
  }

  /** Sends QUIT and closes, without waiting long: nothing depends on the answer. */
  async quit(timeoutMs: number): Promise<void> {
    if (this.open) {
      try {
        await this.command('QUIT', timeoutMs, 'QUIT');
      } catch {
        // The connection is being closed anyway.
      }
    }
    this.close();
  }

  close(): void {
    this.#failure ??= connectionLost(this.host);
    this.#socket.destroy();
    this.#wake();
  }
}

/** SNI must be a host name, never an IP address (RFC 6066 §3). */
function serverName(configured: string | undefined, host: string): string | undefined {
  const name = configured ?? host;
  return isIP(name) ? undefined : name;
}
