// The head of a message for the data stage of checks: read from the DATA stream only up to the
// blank line that ends the header (RFC 5322 §2.1), parsed into unfolded fields (§2.2.3), then
// given back to the stream (unshift) so the backend reads the message from its first byte.
// The body is never read here: a check sees the header, and the message keeps streaming.

import type { Readable } from 'node:stream';

const HEADER_END = Buffer.from('\r\n\r\n');

export interface MessageHead {
  /** Every byte read: the header, its blank line, maybe the start of the body. */
  readonly bytes: Buffer;
  /** Where the header ends (before its blank line); `bytes.length` when no end was seen. */
  readonly headerLength: number;
}

function headerEnd(bytes: Buffer, from: number): number {
  if (bytes.length >= 2 && bytes[0] === 0x0d && bytes[1] === 0x0a) return 0;
  return bytes.indexOf(HEADER_END, Math.max(0, from - 3));
}

/**
 * Reads `stream` (paused mode) until the end of the header, `maxBytes`, or the end of the
 * message, whichever comes first. Rejects with the stream's error (e.g. the server's 552).
 */
export function readMessageHead(stream: Readable, maxBytes: number): Promise<MessageHead> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const finish = (headerLength: number) => {
      cleanup();
      resolve({ bytes, headerLength });
    };
    const onReadable = () => {
      for (
        let chunk = stream.read() as Buffer | null;
        chunk !== null;
        chunk = stream.read() as Buffer | null
      ) {
        const searched = bytes.length;
        bytes = Buffer.concat([bytes, chunk]);
        const end = headerEnd(bytes, searched);
        if (end >= 0) return finish(end);
        if (bytes.length >= maxBytes) return finish(bytes.length);
      }
    };
    const onEnd = () => finish(bytes.length);
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    if (stream.errored) {
      reject(stream.errored);
      return;
    }
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
