// Sender Rewriting Scheme for forwarding (the Shevek SRS paper, as Mail::SRS, postsrsd and
// libsrs2 implement it): SRS0=HHHH=TT=orig-domain=orig-local@our-domain and, when forwarding an
// already rewritten address, SRS1=HHHH=first-hop==rest@our-domain. HHHH is the first four
// base64 characters of HMAC-SHA1 over the lower-cased fields; TT is the day number modulo 1024
// in base32. Checks are case-insensitive, because relays may change the case of local parts.

import { createHmac } from 'node:crypto';
import { SmtpError } from '@mailyard/smtp';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY_MS = 86_400_000;
const HASH_LENGTH = 4;

export type SrsErrorCode = 'ENOTSRS' | 'EBADFORMAT' | 'EBADHASH' | 'ESTALE' | 'EFUTURE';

/** Why an address could not be reversed; `smtpError` is the reply for a bounce to it. */
export class SrsError extends Error {
  readonly code: SrsErrorCode;
  constructor(code: SrsErrorCode, message: string) {
    super(message);
    this.name = 'SrsError';
    this.code = code;
  }
  get smtpError(): SmtpError {
    return new SmtpError(550, '5.1.1', 'No such recipient: invalid SRS address', { cause: this });
  }
}

/** The address is not SRS, or its fields are missing. */
export class SrsFormatError extends SrsError {
  constructor(code: 'ENOTSRS' | 'EBADFORMAT', message: string) {
    super(code, message);
    this.name = 'SrsFormatError';
  }
}

/** The hash does not match any of our secrets: forged, or made with a retired secret. */
export class SrsHashError extends SrsError {
  constructor() {
    super('EBADHASH', 'SRS hash does not match');
    this.name = 'SrsHashError';
  }
}

/** The timestamp is older than the maximum age, or lies in the future. */
export class SrsTimestampError extends SrsError {
  constructor(code: 'ESTALE' | 'EFUTURE', message: string) {
    super(code, message);
    this.name = 'SrsTimestampError';
  }
}

export type SrsReverseResult =
  | { readonly ok: true; readonly address: string }
  | { readonly ok: false; readonly error: SrsError };

export interface SrsOptions {
  /** Our domain: the domain of every rewritten address. */
  readonly domain: string;
  /** Secrets: the first signs, all verify (rotation: prepend the new one, drop the old later). */
  readonly secrets: readonly string[];
  /** Oldest accepted timestamp, in days (default 21). */
  readonly maxAgeDays?: number;
  /** The clock (default: the system clock). */
  readonly now?: () => Date;
}

export interface Srs {
  /** Rewrites a sender for forwarding; `null` (the null sender) stays `null`. */
  forward(address: string): string;
  forward(address: null): null;
  forward(address: string | null): string | null;
  /** Recovers the address a bounce to an SRS address must go to; a value, never a throw. */
  reverse(address: string): SrsReverseResult;
  /** True when the local part looks like SRS0 or SRS1 (whether or not it verifies). */
  isSrs(address: string): boolean;
}

function split(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) throw new TypeError(`not an address: ${address}`);
  return { local: address.slice(0, at), domain: address.slice(at + 1) };
}

const SRS0 = /^SRS0[-+=]/i;
const SRS1 = /^SRS1[-+=]/i;

export function createSrs(options: SrsOptions): Srs {
  if (options.secrets.length === 0 || options.secrets.some((secret) => secret === '')) {
    throw new TypeError('SRS needs at least one non-empty secret');
  }
  const maxAge = options.maxAgeDays ?? 21;
  const now = options.now ?? (() => new Date());
  const today = () => Math.floor(now().getTime() / DAY_MS) % 1024;

  const hash = (secret: string, ...fields: string[]) =>
    createHmac('sha1', secret)
      .update(fields.join('').toLowerCase(), 'utf8')
      .digest('base64')
      .slice(0, HASH_LENGTH);
  const sign = (...fields: string[]) => hash(options.secrets[0] as string, ...fields);
  const verifies = (given: string, ...fields: string[]) =>
    options.secrets.some((secret) => hash(secret, ...fields).toLowerCase() === given.toLowerCase());

  const timestamp = () => {
    const day = today();
    return `${BASE32[day >> 5]}${BASE32[day & 31]}`;
  };

  function checkTimestamp(text: string): SrsError | null {
    const hi = BASE32.indexOf(text.charAt(0).toUpperCase());
    const lo = BASE32.indexOf(text.charAt(1).toUpperCase());
    if (text.length !== 2 || hi < 0 || lo < 0) return new SrsFormatError('EBADFORMAT', 'bad SRS timestamp');
    const age = (today() - ((hi << 5) | lo) + 1024) % 1024;
    if (age <= maxAge) return null;
    // Modulo 1024 days, an age in the upper half is a date ahead of us rather than a very old one.
    return age >= 512
      ? new SrsTimestampError('EFUTURE', 'SRS timestamp is in the future')
      : new SrsTimestampError('ESTALE', `SRS timestamp is older than ${maxAge} days`);
  }

  function forward(address: string | null): string | null {
    if (address === null) return null;
    const { local, domain } = split(address);
    if (SRS0.test(local)) {
      // Forwarding an SRS0 address: keep its opaque part, name its domain (SRS1).
      const rest = local.slice(4);
      return `SRS1=${sign(domain, rest)}=${domain}=${rest}@${options.domain}`;
    }
    if (SRS1.test(local)) {
      const [, , firstHop, rest] = /^SRS1[-+=]([^=]*)=([^=]*)=([-+=].*)$/is.exec(local) ?? [];
      if (firstHop !== undefined && rest !== undefined) {
        // `rest` starts with the separator that followed the first hop's SRS0.
        return `SRS1=${sign(firstHop, rest)}=${firstHop}=${rest}@${options.domain}`;
      }
    }
    const stamp = timestamp();
    return `SRS0=${sign(stamp, domain, local)}=${stamp}=${domain}=${local}@${options.domain}`;
  }

  function reverse(address: string): SrsReverseResult {
    const at = address.lastIndexOf('@');
    const local = at < 0 ? address : address.slice(0, at);
    if (SRS0.test(local)) {
      const match = /^SRS0[-+=]([^=]+)=([^=]+)=([^=]+)=(.+)$/is.exec(local);
      if (!match) return { ok: false, error: new SrsFormatError('EBADFORMAT', 'malformed SRS0 address') };
      const [, given = '', stamp = '', domain = '', user = ''] = match;
      if (!verifies(given, stamp, domain, user)) return { ok: false, error: new SrsHashError() };
      const stale = checkTimestamp(stamp);
      if (stale) return { ok: false, error: stale };
      return { ok: true, address: `${user}@${domain}` };
    }
    if (SRS1.test(local)) {
      const match = /^SRS1[-+=]([^=]+)=([^=]+)=([-+=].*)$/is.exec(local);
      if (!match) return { ok: false, error: new SrsFormatError('EBADFORMAT', 'malformed SRS1 address') };
      const [, given = '', firstHop = '', rest = ''] = match;
      if (!verifies(given, firstHop, rest)) return { ok: false, error: new SrsHashError() };
      return { ok: true, address: `SRS0${rest}@${firstHop}` };
    }
    return { ok: false, error: new SrsFormatError('ENOTSRS', 'not an SRS address') };
  }

  return {
    forward: forward as Srs['forward'],
    reverse,
    isSrs: (address) => {
      const at = address.lastIndexOf('@');
      const local = at < 0 ? address : address.slice(0, at);
      return SRS0.test(local) || SRS1.test(local);
    },
  };
}
