// Reads a message (RFC 5322 §2.1: header fields, an empty line, the body) from any input form,
// splitting the header block off and streaming the body to a callback, so that a large body
// passes through once and is never held in memory whole.

import type { Readable } from 'node:stream';

export type MessageSource = string | Uint8Array | Readable | AsyncIterable<Uint8Array | string>;

/** Header fields, each unfolded into one string (with its folding CRLFs kept, no final CRLF). */
export interface HeaderField {
  readonly name: string;
  /** Lower-case field name. */
  readonly key: string;
  readonly raw: string;
}

async function* chunks(source: MessageSource): AsyncIterable<Buffer> {
  if (typeof source === 'string') yield Buffer.from(source, 'utf8');
  else if (source instanceof Uint8Array)
    yield Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  else
    for await (const chunk of source)
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
}

/** Largest header block accepted before the body must start. */
const MAX_HEADER_BYTES = 4 * 1024 * 1024;

/**
 * Splits the source into parsed header fields and body chunks. `onBody` is called for each body
 * chunk in order; the promise resolves with the header fields once the source ends.
 */
export async function readMessage(
  source: MessageSource,
  onBody: (chunk: Buffer) => void,
): Promise<HeaderField[]> {
  let head: Buffer = Buffer.alloc(0);
  let inBody = false;
  let headerText = '';
  for await (const chunk of chunks(source)) {
    if (inBody) {
      onBody(chunk);
      continue;
    }
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const split = findBodyStart(head.toString('latin1'));
    if (split) {
      headerText = split.header;
      inBody = true;
      if (split.bodyStart < head.length) onBody(head.subarray(split.bodyStart));
      head = Buffer.alloc(0);
    } else if (head.length > MAX_HEADER_BYTES) {
      throw new RangeError('header block too large');
    }
  }
  if (!inBody) headerText = head.toString('latin1');
  return parseHeaderFields(headerText);
}

/** Where the header block ends: the first empty line (a message starting with one has no header fields). */
function findBodyStart(text: string): { header: string; bodyStart: number } | null {
  if (text.startsWith('\r\n')) return { header: '', bodyStart: 2 };
  if (text.startsWith('\n')) return { header: '', bodyStart: 1 };
  const match = /\n(\r?\n)/.exec(text);
  if (!match) return null;
  return { header: text.slice(0, match.index).replace(/\r$/, ''), bodyStart: match.index + match[0].length };
}

export function parseHeaderFields(text: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') continue;
    const last = fields.at(-1);
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      fields[fields.length - 1] = { ...last, raw: `${last.raw}\r\n${line}` };
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    fields.push({ name, key: name.toLowerCase(), raw: line });
  }
  return fields;
}
