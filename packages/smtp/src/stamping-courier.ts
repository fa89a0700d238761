// Header fields stamped at delivery: a Courier around another that prepends fields computed from
// the stored message (DKIM-Signature fields, RFC 6376 §3.5, for the relay; ARC sets, RFC 8617
// §5.1, for the forwarder) each time the inner courier opens it. Stamping here rather than before
// the queue commit lets a message of any size stream from the SMTP client to the queue and from
// the queue to the next hop without ever being held whole: a signature needs the whole body
// hashed, which at delivery time is one extra streaming read of the stored copy.
//
// That read also counts the message, so the delivery request carries its size (RFC 1870 SIZE,
// what the stored copy plus the stamped fields weigh): without it the SMTP client would read and
// encode the whole message once more just to measure it before MAIL FROM. Every read is cut into
// pieces of at most PIECE octets, so each buffer the client's DATA encoder allocates stays small,
// and memory per delivery stays flat whatever the size of the message (the relay's target: within
// 64 MB above idle while relaying one 50 MB message).

import { PassThrough, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import type { Courier, DeliveryRequest } from './delivery.ts';
import { createByteMeter } from './memory-pressure.ts';

/**
 * Reads the message (from its first octet) and answers the header fields to prepend,
 * CRLF-terminated, or '' for none. It may stop reading early (e.g. no key for the sender).
 */
export type Stamp = (message: Readable) => Promise<string>;

/** Largest piece handed on: the queue reads 512 KiB chunks, the encoder allocates twice a piece. */
export const PIECE = 64 * 1024;

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

interface Prepared {
  readonly headers: string;
  readonly size: number;
}

async function prepare(request: DeliveryRequest, stamp: Stamp): Promise<Prepared> {
  const counted = pieces(request.openMessage());
  const headers = await stamp(counted);
  if (counted.readableEnded) return { headers, size: counted.bytes + Buffer.byteLength(headers) };
  // The stamp stopped reading early (a signer without a key for this sender): count the rest.
  counted.destroy();
  let size = 0;
  for await (const chunk of pieces(request.openMessage())) size += (chunk as Buffer).length;
  return { headers, size: size + Buffer.byteLength(headers) };
}

export function createStampingCourier(inner: Courier, stamp: Stamp): Courier {
  return {
    async deliver(request, signal) {
      // Once per delivery request, reused if the message is reopened (a second MX host).
      const { headers, size } = await prepare(request, stamp);
      const openMessage = (): Readable => {
        const out = new PassThrough({ highWaterMark: PIECE });
        if (headers) out.write(headers);
        pipeline(pieces(request.openMessage()), out, () => {});
        return out;
      };
      const envelope = { ...request.envelope, params: { ...request.envelope.params, size } };
      return inner.deliver({ ...request, envelope, openMessage }, signal);
    },
  };
}
