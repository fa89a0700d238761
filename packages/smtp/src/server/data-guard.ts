// Checks a message while it streams in after DATA: the SIZE limit (RFC 1870 §6: 552 5.3.4 once
// the limit is crossed; the rest is discarded so memory stays flat) and bare CR / bare LF
// (RFC 5321 §2.3.8: lines end only with CRLF). Bare line ends are what SMTP smuggling
// (CVE-2023-51764/5/6) rides on; smtp-server already ends DATA only at CRLF.CRLF
// (§4.1.1.4), and this guard makes sure a message carrying such a sequence is refused
// (default) or has its line ends repaired, so no downstream hop can read a second message in it.

import { SmtpError } from '../smtp-error.ts';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

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

/** True when `chunk` holds a CR not followed by LF or an LF not preceded by CR. */
function findBare(chunk: Buffer, previousWasCr: boolean): boolean {
  if (previousWasCr && chunk[0] !== LF) return true;
  for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) {
    const before = i === 0 ? previousWasCr : chunk[i - 1] === CR;
    if (!before) return true;
  }
  // A CR at the very end is decided by the next chunk.
  for (let i = chunk.indexOf(CR); i !== -1 && i < chunk.length - 1; i = chunk.indexOf(CR, i + 1)) {
    if (chunk[i + 1] !== LF) return true;
  }
  return false;
}

/** Rewrites bare CR and bare LF as CRLF. `previousWasCr`: the last chunk ended in a CR. */
function normalize(chunk: Buffer, previousWasCr: boolean): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  if (previousWasCr && chunk[0] !== LF) parts.push(Buffer.from([LF]));
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

export function createDataGuard(options: DataGuardOptions): DataGuard {
  let violation: SmtpError | null = null;
  let received = 0;
  let previousWasCr = false;
  return {
    get violation() {
      return violation;
    },
    get received() {
      return received;
    },
    push(chunk) {
      received += chunk.length;
      if (violation) return null;
      if (options.maxSize > 0 && received > options.maxSize) {
        violation = tooBig(options.maxSize);
        return null;
      }
      if (chunk.length === 0) return chunk;
      let out = chunk;
      if (options.bareLineEndings === 'reject') {
        if (findBare(chunk, previousWasCr)) {
          violation = bareLineEnding();
          return null;
        }
      } else {
        out = normalize(chunk, previousWasCr);
      }
      previousWasCr = chunk[chunk.length - 1] === CR;
      return out;
    },
    end() {
      if (violation) return null;
      if (!previousWasCr) return Buffer.alloc(0);
      // A message that ends in a lone CR: its line end is bare.
      if (options.bareLineEndings === 'reject') {
        violation = bareLineEnding();
        return null;
      }
      return Buffer.from([LF]);
    },
  };
}
