// The DATA encoder of the SMTP client: RFC 5321 §4.1.1.4 and §4.5.2 (transparency: a line
// starting with `.` gets one more `.`), §2.3.8 (lines end with CRLF only) and §4.1.1.4 (the
// message ends with CRLF.CRLF). A bare CR or bare LF never leaves: each becomes CRLF, so no
// receiving server can see an end of data we did not mean (SMTP smuggling, CVE-2023-51764/5/6).
// NUL octets are dropped: RFC 5322 and 8BITMIME forbid them, and a server that ignores them would
// otherwise see `CRLF NUL . CRLF` as the end of data.

import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const NUL = 0x00;
const TERMINATOR = Buffer.from('.\r\n');

/** Encodes raw message bytes into the DATA stream, final `.CRLF` included. */
export class DataEncoder extends Transform {
  #atLineStart = true;
  #pendingCr = false;
  /** Octets of message content written, terminator excluded, stuffed dots included. */
  contentBytes = 0;
  /** Dots added by dot-stuffing. */
  stuffedDots = 0;

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const input = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out = Buffer.allocUnsafe(input.length * 2 + 2);
    let n = 0;
    for (const byte of input) {
      if (this.#pendingCr) {
        this.#pendingCr = false;
        out[n++] = CR;
        out[n++] = LF;
        this.#atLineStart = true;
        if (byte === LF) continue;
      }
      if (byte === CR) {
        this.#pendingCr = true;
      } else if (byte === LF) {
        out[n++] = CR;
        out[n++] = LF;
        this.#atLineStart = true;
      } else if (byte !== NUL) {
        if (this.#atLineStart && byte === DOT) {
          out[n++] = DOT;
          this.stuffedDots++;
        }
        out[n++] = byte;
        this.#atLineStart = false;
      }
    }
    this.contentBytes += n;
    callback(null, n > 0 ? out.subarray(0, n) : undefined);
  }

  override _flush(callback: TransformCallback): void {
    const tail: Buffer[] = [];
    if (this.#pendingCr || !this.#atLineStart) tail.push(Buffer.from('\r\n'));
    this.contentBytes += tail.length * 2;
    tail.push(TERMINATOR);
    callback(null, Buffer.concat(tail));
  }
}

export type MessageSource = Uint8Array | string | (() => Readable);

export function openSource(source: MessageSource): Readable {
  if (typeof source === 'function') return source();
  return Readable.from([typeof source === 'string' ? Buffer.from(source, 'utf8') : Buffer.from(source)]);
}

/** The encoded DATA stream of a message; an error of the source surfaces on the returned stream. */
export function encodeStream(source: MessageSource, encoder = new DataEncoder()): DataEncoder {
  return pipeline(openSource(source), encoder, () => {
    // Errors reach the consumer through the encoder, which pipeline destroys with them.
  });
}

/** Encodes a whole message in memory (for tests and small messages). */
export async function encodeData(source: MessageSource): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of encodeStream(source)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The size of the message as it goes on the wire with CRLF line endings, without dot-stuffing
 * and terminator: what RFC 1870 SIZE counts.
 */
export async function measureMessage(source: MessageSource): Promise<number> {
  const encoder = new DataEncoder();
  for await (const _ of encodeStream(source, encoder)) {
    // Only the counters matter.
  }
  return encoder.contentBytes - encoder.stuffedDots;
}
