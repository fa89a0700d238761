// Checks a message while it streams in after DATA: the SIZE limit (RFC 1870 §6: 552 5.3.4 once
// the limit is crossed; the rest is discarded so memory stays flat) and bare CR / bare LF
// (RFC 5321 §2.3.8: lines end only with CRLF). Bare line ends are what SMTP smuggling
// (CVE-2023-51764/5/6) rides on; smtp-server already ends DATA only at CRLF.CRLF
// (§4.1.1.4), and this guard makes sure a message carrying such a sequence is refused
// (default) or has its line ends repaired, so no downstream hop can read a second message in it.
// Every byte of every message goes through here: the common case (CRLF text, under the limit)
// costs two string searches per line and no allocation besides one string per chunk.

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
  // One latin1 string, searched with String#indexOf: the search stays inside V8, which for the
  // short lines of mail is several times cheaper per line than a native Buffer#indexOf call.
  const text = chunk.toString('latin1');
  // Walk the LFs and the CRs in step: each LF needs a CR right before it, and the first CR
  // after the previous LF must be exactly that one (any earlier CR is followed by no LF).
  let cr = text.indexOf('\r');
  for (let lf = text.indexOf('\n', 1); lf !== -1; lf = text.indexOf('\n', lf + 1)) {
    if (text.charCodeAt(lf - 1) !== CR || cr < lf - 1) return true;
    cr = text.indexOf('\r', lf + 1);
  }
  // After the last LF a CR may only be the final byte.
  return cr !== -1 && cr < length - 1;
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
