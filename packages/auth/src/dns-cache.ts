// A small answer cache in front of a resolver, for a server that verifies many messages from the
// same senders: their SPF, DKIM key and DMARC records are asked for again and again. Answers and
// "no such name / no such record" (RFC 2308 negative caching) are kept for `ttlMs`; temporary
// failures (SERVFAIL, timeouts) are not kept, so they are asked again. Questions already on their
// way are shared, so twenty messages arriving together from one domain cost one lookup.
// node:dns does not tell TXT answers' TTLs, so `ttlMs` is a ceiling chosen by the caller: keep it
// short (the records it serves, SPF/DKIM/DMARC, change rarely and publish TTLs of minutes to hours).

import type { Resolver } from './dns.ts';

export interface CachingResolverOptions {
  /** How long an answer or a negative answer is kept (default 30 s). */
  readonly ttlMs?: number;
  /** Most questions kept; the oldest go first (default 10,000). */
  readonly maxEntries?: number;
  /** The clock (default `Date.now`). */
  readonly now?: () => number;
}

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

interface Entry {
  readonly expires: number;
  readonly answer: Promise<unknown[]>;
}

export function createCachingResolver(resolver: Resolver, options: CachingResolverOptions = {}): Resolver {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const at = now();
    const cached = entries.get(key);
    if (cached && cached.expires > at) return cached.answer;
    const answer = resolver(name, rrtype);
    entries.delete(key);
    entries.set(key, { expires: at + ttlMs, answer });
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    // A temporary failure is forgotten as soon as it is known.
    answer.catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      if (!(typeof code === 'string' && NEGATIVE.has(code)) && entries.get(key)?.answer === answer)
        entries.delete(key);
    });
    return answer;
  };
}
