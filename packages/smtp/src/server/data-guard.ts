// Checks a message while it streams in after DATA: the SIZE limit (RFC 1870 §6: 552 5.3.4 once
// the limit is crossed; the rest is discarded so memory stays flat) and bare CR / bare LF
// (RFC 5321 §2.3.8: lines end only with CRLF). Bare line ends are what SMTP smuggling
// (CVE-2023-51764/5/6) rides on; smtp-server already ends DATA only at CRLF.CRLF
// (§4.1.1.4), and this guard makes sure a message carrying such a sequence is refused
// (default) or has its line ends repaired, so no downstream hop can read a second message in it.
// Every byte of every message goes through here: the common case (CRLF text, under the limit)
// is scanned four octets at a time and allocates nothing but a view per chunk.

import { SmtpError } from '../smtp-error.ts';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const LF_ONLY = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

export type BareLineEndings = 'reject' | 'normalize';

export interface DataGuardOptions {
  /** Largest message accepted, in octets as received (after dot-unstuffing). 0 = no limit. */
  readonly maxSize: number;
  readonly bareLineEndings: BareLineEndings;
}

export interface DataGuard {
  /**
   * Feeds one chunk; returns the bytes to pass on, or `null` once the message is refused
   * (from then on everything is discarded, only counted).
   */
  push(chunk: Buffer): Buffer | null;
  /** Call at the end of the message: the bytes still held back, or `null` when refused. */
  end(): Buffer | null;
  /** The reason the message is refused, as soon as it is known. */
  readonly violation: SmtpError | null;
  /** Octets received so far. */
  readonly received: number;
}

export function tooBig(maxSize: number): SmtpError {
  return new SmtpError(552, '5.3.4', `Message size exceeds fixed maximum message size of ${maxSize} octets`);
}

export function bareLineEnding(): SmtpError {
  return new SmtpError(550, '5.6.0', 'Message contains a bare CR or LF; lines must end with CRLF');
}

/**
 * True when `chunk` holds a CR not followed by LF or an LF not preceded by CR.
 * `previousWasCr`: the chunk before ended in a CR. A CR at the very end is left for the next
 * chunk (or the end of the message) to decide.
 */
export function hasBareLineEnding(chunk: Buffer, previousWasCr: boolean): boolean {
  const length = chunk.length;
  if (length === 0) return false;
  if (previousWasCr ? chunk[0] !== LF : chunk[0] === LF) return true;
  // Four octets at a time, without allocating: a word with no octet below 14 (most of them: text
  // has a CR and an LF once a line) holds neither CR nor LF, and only the others are looked at
  // octet by octet. As fast as searching a latin1 copy of the chunk, which for 100 KB messages
  // was 100 KB of garbage each and made the server's young-generation GC run five times as often.
  const offset = chunk.byteOffset;
  const head = Math.min(length, (4 - (offset & 3)) & 3);
  if (hasBareIn(chunk, 0, head)) return true;
  const words = (length - head) >>> 2;
  if (words === 0) return hasBareIn(chunk, head, length);
  const view = new Int32Array(chunk.buffer, offset + head, words);
  for (let j = 0; j < words; j++) {
    const word = view[j] as number;
    // Non-zero exactly when some octet of the word is below 0x0e (the "has less than" bit trick).
    if (((word - 0x0e0e0e0e) & ~word & 0x80808080) === 0) continue;
    const at = head + (j << 2);
    if (hasBareIn(chunk, at, at + 4)) return true;
  }
  return hasBareIn(chunk, head + (words << 2), length);
}

/** hasBareLineEnding() for the octets from..to of `chunk` (its first octet is checked by the caller). */
function hasBareIn(chunk: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const octet = chunk[i] as number;
    if (octet > CR) continue;
    if (octet === LF) {
      if (i > 0 && chunk[i - 1] !== CR) return true;
    } else if (octet === CR && i + 1 < chunk.length && chunk[i + 1] !== LF) return true;
  }
  return false;
}

/** Rewrites bare CR and bare LF as CRLF. `previousWasCr`: the last chunk ended in a CR. */
function normalize(chunk: Buffer, previousWasCr: boolean): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (previousWasCr && chunk[0] !== LF) parts.push(LF_ONLY);
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte === LF) {
      const hadCr = i === 0 ? previousWasCr : chunk[i - 1] === CR;
      if (!hadCr) {
        parts.push(chunk.subarray(start, i), CRLF);
        start = i + 1;
      }
    } else if (byte === CR && i < chunk.length - 1 && chunk[i + 1] !== LF) {
      parts.push(chunk.subarray(start, i), CRLF);
      start = i + 1;
    }
  }
  if (parts.length === 0) return chunk;
  parts.push(chunk.subarray(start));
  return Buffer.concat(parts);
}

class Guard implements DataGuard {
  violation: SmtpError | null = null;
  received = 0;
  private previousWasCr = false;
  private readonly maxSize: number;
  private readonly normalize: boolean;

  constructor(options: DataGuardOptions) {
    this.maxSize = options.maxSize;
    this.normalize = options.bareLineEndings === 'normalize';
  }

  push(chunk: Buffer): Buffer | null {
    this.received += chunk.length;
    if (this.violation) return null;
    if (this.maxSize > 0 && this.received > this.maxSize) {
      this.violation = tooBig(this.maxSize);
      return null;
    }
    if (chunk.length === 0) return chunk;
    let out = chunk;
    if (hasBareLineEnding(chunk, this.previousWasCr)) {
      if (!this.normalize) {
        this.violation = bareLineEnding();
        return null;
      }
      out = normalize(chunk, this.previousWasCr);
    }
    this.previousWasCr = chunk[chunk.length - 1] === CR;
    return out;
  }

  end(): Buffer | null {
    if (this.violation) return null;
    if (!this.previousWasCr) return EMPTY;
    // A message that ends in a lone CR: its line end is bare.
    if (!this.normalize) {
      this.violation = bareLineEnding();
      return null;
    }
    this.previousWasCr = false;
    return LF_ONLY;
  }
}

export function createDataGuard(options: DataGuardOptions): DataGuard {
  return new Guard(options);
}
