// DKIM canonicalization (RFC 6376 §3.4): "simple" and "relaxed" for header fields and body.
// The body canonicalizer is incremental, so a large message streams through it chunk by chunk
// and is never held twice. A bare LF counts as a line end, as it becomes CRLF on the wire.

import { createHash, type Hash } from 'node:crypto';

export type Canon = 'simple' | 'relaxed';

/** RFC 6376 §3.4.1 / §3.4.2 for one header field (`Name: value`, possibly folded), CRLF appended. */
export function canonicalizeHeader(field: string, canon: Canon): string {
  if (canon === 'simple') return field.endsWith('\r\n') ? field : `${field}\r\n`;
  const colon = field.indexOf(':');
  const name = field.slice(0, colon).trim().toLowerCase();
  const value = field
    .slice(colon + 1)
    .replace(/\r?\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}\r\n`;
}

/** Incremental body hash: feed chunks with `update`, then `digest` once. */
export class BodyHasher {
  readonly #canon: Canon;
  readonly #hash: Hash;
  #carry = '';
  #emptyLines = 0;
  #hashedAny = false;

  constructor(canon: Canon, algorithm = 'sha256') {
    this.#canon = canon;
    this.#hash = createHash(algorithm);
  }

  update(chunk: Uint8Array | string): void {
    const text = this.#carry + (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1'));
    const last = text.lastIndexOf('\n');
    if (last < 0) {
      this.#carry = text;
      return;
    }
    this.#carry = text.slice(last + 1);
    this.#lines(text.slice(0, last + 1));
  }

  /** Canonicalizes whole lines at once (one regex pass per chunk, not per line). */
  #lines(block: string): void {
    const lines =
      this.#canon === 'relaxed'
        ? // Only WSP runs other than one plain space need rewriting, and only line ends that are
          // bare LF or follow a space: most text passes through untouched, which keeps 1 MB fast.
          block.replace(/(?: [ \t]|\t)[ \t]*/g, ' ').replace(/ \r?\n|(?<!\r)\n/g, '\r\n')
        : block.replace(/(?<!\r)\n/g, '\r\n');
    // Hold trailing empty lines back: they count only if content follows (§3.4.3, §3.4.4).
    const trailing = /(?:\r\n)+$/.exec(lines);
    const tail = trailing ? trailing[0].length / 2 : 0;
    if (!trailing || trailing.index > 0) {
      const content = trailing ? lines.slice(0, trailing.index + 2) : lines;
      if (this.#emptyLines > 0) this.#hash.update('\r\n'.repeat(this.#emptyLines), 'latin1');
      this.#hash.update(content, 'latin1');
      this.#hashedAny = true;
      this.#emptyLines = tail - 1;
    } else {
      this.#emptyLines += tail;
    }
  }

  /** The base64 body hash (the bh= value). */
  digest(): string {
    if (this.#carry !== '') {
      // A last line without a line end gets one (§3.4.3, §3.4.4).
      const carry = this.#carry.endsWith('\r') ? this.#carry.slice(0, -1) : this.#carry;
      this.#carry = '';
      this.#lines(`${carry}\n`);
    }
    // An empty body is CRLF for "simple" and nothing at all for "relaxed".
    if (!this.#hashedAny && this.#canon === 'simple') this.#hash.update('\r\n', 'latin1');
    return this.#hash.digest('base64');
  }
}
