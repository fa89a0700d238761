// Header fields stamped at delivery: a Courier around another that prepends fields computed from
// the stored message (DKIM-Signature fields, RFC 6376 §3.5, for the relay; ARC sets, RFC 8617
// §5.1, for the forwarder) each time the inner courier opens it. Stamping here rather than before
// the queue commit lets a message of any size stream from the SMTP client to the queue and from
// the queue to the next hop without ever being held whole: a signature needs the whole body
// hashed, which at delivery time is one extra streaming read of the stored copy.
//
// The delivery request also carries the message's size (RFC 1870 SIZE, what the stored copy plus
// the stamped fields weigh): without it the SMTP client would read and encode the whole message
// once more just to measure it before MAIL FROM.
//
// Reads of the store are what a delivery costs most (each one a lookup and a file open, read and
// close in the SQLite store), so a message of at most HOLD octets — nearly all mail — is read once
// per delivery request and held for it: the stamp reads the held copy, its length is the size,
// and every open replays it. A larger message streams: read once to stamp and count (unless the
// queue knew its size and the stamp needs no more than its header), then once per open, cut into
// pieces of at most PIECE octets and metered, so memory per delivery stays flat whatever its size
// (the relay's target: within 64 MB above idle while relaying one 50 MB message).

import { PassThrough, pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import type { Courier, DeliveryRequest } from './delivery.ts';
import { createByteMeter } from './memory-pressure.ts';

/**
 * Reads the message (from its first octet) and answers the header fields to prepend,
 * CRLF-terminated, or '' for none. It may stop reading early (e.g. no key for the sender).
 */
export type Stamp = (message: Readable) => Promise<string>;

/** Largest piece of a streamed message handed on (the queue reads 512 KiB chunks). */
export const PIECE = 64 * 1024;

/**
 * Largest message read once and held for its delivery request: with the worker's deliveries
 * under way (100 by default) at most a few tens of megabytes, and a message this small is read
 * from the store in one chunk anyway.
 */
export const HOLD = 256 * 1024;

/** Cuts chunks into views of at most PIECE octets (no copy) and counts what passes. */
class Pieces extends Transform {
  readonly meter = createByteMeter();
  get bytes(): number {
    return this.meter.bytes;
  }
  constructor() {
    super({ highWaterMark: PIECE, readableHighWaterMark: PIECE });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.meter.add(chunk.length);
    for (let at = 0; at < chunk.length; at += PIECE) this.push(chunk.subarray(at, at + PIECE));
    callback();
  }
}

function pieces(source: Readable): Pieces {
  return pipeline(source, new Pieces(), () => {
    // Errors reach the reader through the returned stream, which pipeline destroys with them.
  });
}

/** A stream of `chunks` as they are (not Readable.from: its async iterator costs more here). */
function replay(chunks: readonly Buffer[]): Readable {
  let next = 0;
  return new Readable({
    read() {
      const chunk = chunks[next++];
      this.push(chunk === undefined ? null : chunk);
    },
  });
}

interface Prepared {
  readonly headers: string;
  readonly size: number;
  /** The whole message, when it was small enough to hold. */
  readonly held: Buffer | null;
}

/** Reads up to HOLD octets (one chunk more at most); `ended` when that was the whole message. */
async function readAhead(
  iterator: AsyncIterator<unknown>,
): Promise<{ chunks: Buffer[]; bytes: number; ended: boolean }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  while (bytes <= HOLD) {
    const next = await iterator.next();
    if (next.done) return { chunks, bytes, ended: true };
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string);
    chunks.push(chunk);
    bytes += chunk.length;
  }
  return { chunks, bytes, ended: false };
}

async function prepare(request: DeliveryRequest, stamp: Stamp): Promise<Prepared> {
  const source = request.openMessage();
  const iterator = source[Symbol.asyncIterator]();
  let ahead: Awaited<ReturnType<typeof readAhead>>;
  try {
    ahead = await readAhead(iterator);
  } catch (error) {
    source.destroy();
    throw error;
  }
  if (ahead.ended) {
    const held = ahead.chunks.length === 1 ? (ahead.chunks[0] as Buffer) : Buffer.concat(ahead.chunks);
    const headers = await stamp(replay([held]));
    return { headers, size: held.length + Buffer.byteLength(headers), held };
  }
  // Too large to hold: what was read ahead, then the rest, counted as the stamp reads it.
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      yield* ahead.chunks;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string);
      }
    } finally {
      source.destroy();
    }
  }
  const counted = pieces(Readable.from(rest(), { objectMode: false }));
  let headers: string;
  try {
    headers = await stamp(counted);
  } catch (error) {
    counted.destroy();
    throw error;
  }
  const extra = Buffer.byteLength(headers);
  if (counted.readableEnded) return { headers, size: counted.bytes + extra, held: null };
  counted.destroy();
  if (request.size !== undefined) return { headers, size: request.size + extra, held: null };
  // The stamp stopped reading early (a signer without a key for this sender): count the rest.
  let size = 0;
  for await (const chunk of pieces(request.openMessage())) size += (chunk as Buffer).length;
  return { headers, size: size + extra, held: null };
}

export function createStampingCourier(inner: Courier, stamp: Stamp): Courier {
  return {
    async deliver(request, signal) {
      // Once per delivery request, reused if the message is reopened (a second MX host).
      const { headers, size, held } = await prepare(request, stamp);
      const stamped = headers ? Buffer.from(headers) : null;
      const openMessage = held
        ? (): Readable => replay(stamped ? [stamped, held] : [held])
        : (): Readable => {
            const out = new PassThrough({ highWaterMark: PIECE });
            if (stamped) out.write(stamped);
            pipeline(pieces(request.openMessage()), out, () => {});
            return out;
          };
      const envelope = { ...request.envelope, params: { ...request.envelope.params, size } };
      return inner.deliver({ ...request, envelope, size, openMessage }, signal);
    },
  };
}
