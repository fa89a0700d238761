// The header block of a message in flight (RFC 5322 §2.1: header fields, an empty line, the
// body), read without holding the whole message: the chunks read to find the end of the header
// are replayed in front of the rest, so the message streams on unchanged. Header rules, DKIM signing
// and ARC sealing all start here.

import { Readable } from 'node:stream';

/** Longest header block looked at; beyond it the message is treated as having no more fields. */
export const MAX_HEAD = 256 * 1024;

export interface PeekedMessage {
  /** The header block (without the empty line), or its first MAX_HEAD octets. */
  readonly head: Buffer;
  /** The whole message, from its first octet. */
  readonly message: Readable;
}

export async function peekHead(source: Readable | Buffer): Promise<PeekedMessage> {
  if (Buffer.isBuffer(source)) {
    const end = source.indexOf('\r\n\r\n');
    return {
      head: source.subarray(0, end < 0 ? Math.min(source.length, MAX_HEAD) : end),
      message: Readable.from([source]),
    };
  }
  const iterator = source[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let length = 0;
  let head: Buffer | null = null;
  while (head === null) {
    const next = await iterator.next();
    if (next.done) break;
    const chunk = Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string);
    seen.push(chunk);
    length += chunk.length;
    const joined = Buffer.concat(seen, length);
    const end = joined.indexOf('\r\n\r\n');
    if (end >= 0) head = joined.subarray(0, end);
    else if (length >= MAX_HEAD) head = joined.subarray(0, MAX_HEAD);
    if (seen.length > 1) seen.splice(0, seen.length, joined);
  }
  const replay = seen.length > 0 ? (seen[0] as Buffer) : Buffer.alloc(0);
  head ??= replay;
  async function* all(): AsyncGenerator<Buffer> {
    if (replay.length > 0) yield replay;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value as string);
    }
  }
  return { head, message: Readable.from(all(), { objectMode: false }) };
}
