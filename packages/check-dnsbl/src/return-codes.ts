// Which A answers of a block list count as a listing (RFC 5782 §2.1, §2.3). A list answers
// with addresses in 127.0.0.0/8; 127.0.0.1 is never a listing (it is the "not listed" test
// point; 127.0.0.2 is the listed one). Spamhaus and others answer 127.255.255.0/24 for
// errors — a query through a public resolver, too many queries — which must never be read as a
// listing, whatever the configuration says. Anything outside 127.0.0.0/8 is a list that
// has gone wrong (expired zones that answer everything with a wildcard) and is ignored too.

import { isIPv4 } from 'node:net';

export interface CodeRange {
  readonly from: number;
  readonly to: number;
}

export function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

const LOOPBACK = { from: ipv4ToNumber('127.0.0.0'), to: ipv4ToNumber('127.255.255.255') };
const NOT_LISTED = ipv4ToNumber('127.0.0.1');
const ERRORS = { from: ipv4ToNumber('127.255.255.0'), to: ipv4ToNumber('127.255.255.255') };

function within(value: number, range: CodeRange): boolean {
  return value >= range.from && value <= range.to;
}

/** An error answer of the list (127.255.255.0/24). */
export function isErrorCode(answer: string): boolean {
  return isIPv4(answer) && within(ipv4ToNumber(answer), ERRORS);
}

/**
 * Parses `127.0.0.2` or `127.0.0.2-127.0.0.11`; returns the range, or why it is refused.
 */
export function parseCodeRange(text: string): CodeRange | string {
  const [from = '', to = from] = text.split('-').map((part) => part.trim());
  if (!isIPv4(from) || !isIPv4(to)) return `"${text}" is not an IPv4 address or a range a.b.c.d-e.f.g.h`;
  const range = { from: ipv4ToNumber(from), to: ipv4ToNumber(to) };
  if (range.from > range.to) return `"${text}" ends before it starts`;
  if (!within(range.from, LOOPBACK) || !within(range.to, LOOPBACK)) return `"${text}" is outside 127.0.0.0/8`;
  if (within(range.to, ERRORS) || within(ERRORS.from, range)) {
    return `"${text}" reaches into 127.255.255.0/24, which lists use for errors, never for listings`;
  }
  return range;
}

/** Whether `answer` is a listing, given the list's configured codes (none: any valid code). */
export function isListing(answer: string, codes: readonly CodeRange[] | null): boolean {
  if (!isIPv4(answer)) return false;
  const value = ipv4ToNumber(answer);
  if (!within(value, LOOPBACK) || value === NOT_LISTED || within(value, ERRORS)) return false;
  return codes === null || codes.some((range) => within(value, range));
}
