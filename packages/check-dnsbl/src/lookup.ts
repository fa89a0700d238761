// One question to one block list: the A records of the query name, filtered by the list's
// listing codes, then — only when listed — the TXT record for the reason (RFC 5782 §2.1: a
// list publishes both). A failing or slow DNS answer is not a listing: the lookup fails open
// and says so in the log, because refusing mail whenever a list's servers are down would let
// the list's outage become ours (and the list is an opinion, not a fact).

import { type CheckLogger, classifyDnsError, type DnsResolver } from '@mailyard/smtp';
import type { ZoneConfig } from './options.ts';
import { isErrorCode, isListing } from './return-codes.ts';

export type ListedTarget = 'client' | 'mailFrom' | 'helo';

export interface Listing {
  readonly target: ListedTarget;
  /** The IP address or domain that is listed. */
  readonly subject: string;
  readonly zone: string;
  /** The listing codes answered, e.g. `['127.0.0.2']`. */
  readonly codes: readonly string[];
  /** The list's TXT text, cleaned for a reply line; null without one. */
  readonly reason: string | null;
}

export interface LookupRequest {
  readonly resolver: DnsResolver;
  readonly logger: CheckLogger;
  readonly timeoutMs: number;
  readonly target: ListedTarget;
  readonly subject: string;
  readonly name: string;
  readonly zone: ZoneConfig;
}

class LookupTimeout extends Error {}

/** A TXT text fit for an SMTP reply line: printable ASCII, bounded. */
export function cleanReason(text: string): string {
  return text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** Resolves to the listing, or null (not listed, or the lookup failed: fail open). */
export async function lookup(request: LookupRequest): Promise<Listing | null> {
  const { resolver, logger, name, zone } = request;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LookupTimeout()), request.timeoutMs);
  });
  const fields = { zone: zone.zone, query: name, target: request.target };
  try {
    let answers: string[];
    try {
      answers = await Promise.race([resolver.resolve4(name), deadline]);
    } catch (error) {
      if (error instanceof LookupTimeout) {
        logger.warn(
          { ...fields, delayMs: request.timeoutMs },
          'dnsbl lookup timed out; not counted as a listing',
        );
      } else if (classifyDnsError(error) === 'temporary') {
        logger.warn({ ...fields, err: error }, 'dnsbl lookup failed; not counted as a listing');
      }
      return null;
    }
    const errors = answers.filter(isErrorCode);
    if (errors.length > 0) {
      logger.warn(
        { ...fields, codes: errors },
        'dnsbl answered with an error code; not counted as a listing',
      );
    }
    const codes = answers.filter((answer) => isListing(answer, zone.codes));
    if (codes.length === 0) return null;
    let reason: string | null = null;
    try {
      const records = await Promise.race([resolver.resolveTxt(name), deadline]);
      const text = records[0]?.join('');
      if (text) reason = cleanReason(text) || null;
    } catch {
      // The reason is a courtesy: the listing stands without it.
    }
    return { target: request.target, subject: request.subject, zone: zone.zone, codes, reason };
  } finally {
    clearTimeout(timer);
  }
}
