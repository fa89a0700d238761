// sendRaw: writes raw bytes to an SMTP server over a real socket and returns everything the
// server replied, for protocol-level tests (pipelining, smuggling, malformed input).

import { connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

export type RawChunk = string | Uint8Array;

export interface SendRawOptions {
  /** Write every byte as its own segment (Nagle off, a short pause between bytes). */
  readonly byteByByte?: boolean;
  /** Stop (and close) once the replies match; by default, read until the server closes. */
  readonly until?: string | RegExp;
  /** Wait for the server's first reply line before sending. Default true. */
  readonly waitForGreeting?: boolean;
  /** Give up after this long and reject with what arrived so far. Default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Speak TLS from the first byte (implicit TLS listener). */
  readonly tls?: boolean | ConnectionOptions;
  /** Connect from this local address (e.g. 127.0.0.2, the RFC 5782 listed test point). */
  readonly localAddress?: string;
}

/**
 * The codes of each reply line that starts a reply or ends one, with its enhanced code when it
 * has one: `['220', '250', '250 2.1.0', '554 5.7.1']`. Continuation lines (`250-…`) are left out.
 */
export function replyCodes(replies: string): string[] {
  return [...replies.matchAll(/^(\d{3})(?: ([245]\.\d{1,3}\.\d{1,3}))? /gm)].map((match) =>
    match[2] ? `${match[1]} ${match[2]}` : (match[1] ?? ''),
  );
}

function matches(text: string, until: string | RegExp): boolean {
  return typeof until === 'string' ? text.includes(until) : until.test(text);
}

function toBuffer(chunk: RawChunk): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

async function* chunksOf(
  input: RawChunk | Iterable<RawChunk> | AsyncIterable<RawChunk>,
): AsyncGenerator<Buffer> {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    yield toBuffer(input);
    return;
  }
  for await (const chunk of input as AsyncIterable<RawChunk>) yield toBuffer(chunk);
}

/**
 * Connects, (waits for the greeting,) writes `input` — one buffer, a list of chunks, or an
 * async iterable for very large payloads (written with backpressure) — and resolves with the
 * server's raw replies, decoded as UTF-8.
 */
export function sendRaw(
  host: string,
  port: number,
  input: RawChunk | Iterable<RawChunk> | AsyncIterable<RawChunk>,
  options: SendRawOptions = {},
): Promise<string> {
  const { byteByByte = false, until, waitForGreeting = true, timeoutMs = 10_000 } = options;
  return new Promise<string>((resolve, reject) => {
    let received = '';
    let finished = false;
    let greeted: () => void = () => undefined;
    const greeting = new Promise<void>((r) => {
      greeted = r;
    });
    const local = options.localAddress ? { localAddress: options.localAddress } : {};
    const socket: Socket = options.tls
      ? tlsConnect({
          host,
          port,
          ...local,
          rejectUnauthorized: false,
          ...(typeof options.tls === 'object' ? options.tls : {}),
        })
      : netConnect({ host, port, ...local });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      finish(new Error(`sendRaw: timed out after ${timeoutMs} ms; received so far:\n${received}`));
    }, timeoutMs);
    function finish(error?: Error) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(received);
    }
    socket.on('data', (data: Buffer) => {
      received += data.toString('utf8');
      if (received.includes('\r\n')) greeted();
      if (until !== undefined && matches(received, until)) finish();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server that closes on us while we still write: what it said is the answer.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish();
      else finish(error);
    });
    socket.on('close', () => finish());
    socket.once(options.tls ? 'secureConnect' : 'connect', async () => {
      try {
        if (waitForGreeting) await greeting;
        for await (const chunk of chunksOf(input)) {
          if (finished || socket.destroyed) return;
          if (byteByByte) {
            for (const byte of chunk) {
              if (finished || socket.destroyed) return;
              socket.write(Buffer.from([byte]));
              await new Promise((r) => setTimeout(r, 1));
            }
          } else if (!socket.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                socket.off('drain', done);
                socket.off('close', done);
                r();
              };
              socket.on('drain', done);
              socket.on('close', done);
            });
          }
        }
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
