// How a message body travels into the store: read as a stream in fixed-size chunks, hashed on the
// way, never held whole. Chunks that fill up are staged at once; the last (for most mail, the only)
// chunk goes into the commit itself.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { messageTooBigError } from './errors.ts';

export type MessageInput = Readable | AsyncIterable<Uint8Array | string> | Uint8Array | string;

export const CHUNK_BYTES = 512 * 1024;

export interface ReadBody {
  readonly size: number;
  readonly sha256: string;
  readonly chunks: number;
  /** The final, partly filled chunk, written with the commit. */
  readonly tail: { readonly seq: number; readonly data: Uint8Array } | undefined;
}

async function* pieces(input: MessageInput): AsyncIterable<Uint8Array> {
  if (typeof input === 'string') yield Buffer.from(input, 'utf8');
  else if (input instanceof Uint8Array) yield input;
  else {
    for await (const piece of input as AsyncIterable<Uint8Array | string>) {
      yield typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    }
  }
}

/** Reads `input`, calling `stage` for every full chunk; throws 552 5.3.4 past `maxBytes`. */
export async function readBody(
  input: MessageInput,
  maxBytes: number,
  stage: (seq: number, data: Uint8Array) => Promise<void>,
): Promise<ReadBody> {
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  let parts: Uint8Array[] = [];
  let filled = 0;
  try {
    for await (const piece of pieces(input)) {
      size += piece.byteLength;
      if (size > maxBytes) throw messageTooBigError(maxBytes);
      hash.update(piece);
      let offset = 0;
      while (offset < piece.byteLength) {
        const n = Math.min(CHUNK_BYTES - filled, piece.byteLength - offset);
        parts.push(piece.subarray(offset, offset + n));
        filled += n;
        offset += n;
        if (filled === CHUNK_BYTES) {
          await stage(seq++, Buffer.concat(parts, filled));
          parts = [];
          filled = 0;
        }
      }
    }
  } finally {
    // Stop a stream we gave up on, so the sender's side is not left waiting.
    const destroy = (input as { destroy?: () => void }).destroy;
    if (typeof destroy === 'function' && size > maxBytes) destroy.call(input);
  }
  // Copied, so that a caller reusing its buffer cannot change what is committed.
  const tail = filled > 0 || seq === 0 ? { seq: seq++, data: Buffer.concat(parts, filled) } : undefined;
  return { size, sha256: hash.digest('hex'), chunks: seq, tail };
}
