// DNS for authentication checks: the resolver shape that mailauth calls (name, rrtype) ->
// answers, errors carrying node:dns codes (ENOTFOUND/ENODATA = no answer, anything else =
// temporary trouble, RFC 7208 §2.6.6/§5, RFC 6376 §6.1.2, RFC 9989 §4.10), a total time budget
// per verification, and a resolver that asks given servers (`--dns-server`, `dns.servers`).

import { Resolver as NodeResolver } from 'node:dns/promises';

/**
 * Answers one DNS question the way `node:dns/promises` `resolve(name, rrtype)` does: TXT as
 * arrays of strings, MX as `{ exchange, priority }`, A/AAAA/PTR/CNAME/NS as strings. Rejects
 * with an error whose `code` is a node:dns code (`ENOTFOUND`, `ENODATA`, `ESERVFAIL`, `ETIMEOUT`…).
 */
export type Resolver = (name: string, rrtype: string) => Promise<unknown[]>;

export interface DnsError extends Error {
  readonly code: string;
  readonly hostname: string;
}

/** Builds an error as node:dns would reject with (for custom and fixture resolvers). */
export function dnsError(code: string, hostname: string, rrtype = ''): DnsError {
  const error = new Error(`query${rrtype ? ` ${rrtype}` : ''} ${code} ${hostname}`) as Error & {
    code: string;
    hostname: string;
  };
  error.code = code;
  error.hostname = hostname;
  return error;
}

export interface DnsBudget extends Disposable {
  readonly resolver: Resolver;
  /** True once a lookup was refused or cut short because the budget ran out. */
  readonly exhausted: () => boolean;
  /** Number of lookups started. */
  readonly lookups: () => number;
  /** Ends the budget: clears its timer (also `[Symbol.dispose]`, for `using`). */
  readonly close: () => void;
}

/**
 * Wraps a resolver with a total time budget shared by every lookup of one verification. A
 * lookup still running when the budget ends, and every later one, rejects with ETIMEOUT,
 * which each check reports as temperror. One timer serves the whole verification (armed by the
 * first lookup, cleared by `close()`), not one timer and race per lookup: a verification
 * makes several lookups and the per-lookup timers were a measurable share of a fast one.
 */
export function withDnsBudget(resolver: Resolver, budgetMs: number, maxLookups = 200): DnsBudget {
  const deadline = performance.now() + budgetMs;
  let exhausted = false;
  let closed = false;
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  /** Cancels each lookup in flight; the budget's timer calls them all. */
  const inFlight = new Set<() => void>();
  const expire = () => {
    timer = undefined;
    if (inFlight.size > 0) exhausted = true;
    for (const cancel of inFlight) cancel();
    inFlight.clear();
  };
  const budgeted: Resolver = (name, rrtype) => {
    count++;
    const left = deadline - performance.now();
    if (left <= 0 || count > maxLookups) {
      exhausted = true;
      return Promise.reject(dnsError('ETIMEOUT', name, rrtype));
    }
    // Whole milliseconds, so that concurrent verifications share Node's timer list for this
    // duration instead of each creating and tearing down its own. Not unref'd: a lookup in
    // flight keeps the process alive anyway, and `close()` always clears the timer.
    if (!timer && !closed) timer = setTimeout(expire, Math.ceil(left));
    let answer: Promise<unknown[]>;
    try {
      answer = Promise.resolve(resolver(name, rrtype));
    } catch (error) {
      answer = Promise.reject(error);
    }
    return new Promise<unknown[]>((resolve, reject) => {
      const cancel = () => reject(dnsError('ETIMEOUT', name, rrtype));
      inFlight.add(cancel);
      answer.then(
        (answers) => {
          inFlight.delete(cancel);
          resolve(answers);
        },
        (error: unknown) => {
          inFlight.delete(cancel);
          reject(error);
        },
      );
    });
  };
  const close = () => {
    closed = true;
    clearTimeout(timer);
    timer = undefined;
  };
  return {
    resolver: budgeted,
    exhausted: () => exhausted,
    lookups: () => count,
    close,
    [Symbol.dispose]: close,
  };
}

export interface CreateResolverOptions {
  /** `ip` or `ip:port` (IPv6 as `[ip]:port`); the system's servers when absent. */
  readonly servers?: readonly string[];
  /** Per-query timeout in milliseconds (default 3000). */
  readonly timeoutMs?: number;
  /** Tries per server (default 2). */
  readonly tries?: number;
}

/** A resolver that asks the given DNS servers (real network I/O; tests use a fixture resolver or a loopback server). */
export function createResolver(options: CreateResolverOptions = {}): Resolver {
  const resolver = new NodeResolver({ timeout: options.timeoutMs ?? 3000, tries: options.tries ?? 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  return (name, rrtype) => resolver.resolve(name, rrtype) as Promise<unknown[]>;
}

/** A resolver answering from a fixed table: `{ 'sel._domainkey.example.com': { TXT: ['v=DKIM1; …'] } }`. */
export type ZoneData = Readonly<Record<string, Readonly<Record<string, readonly unknown[] | undefined>>>>;

/**
 * A resolver that answers from in-memory zone data: names absent give ENOTFOUND, a name with
 * other types gives ENODATA. TXT strings are returned as one-string records (split at 255 octets
 * is irrelevant to consumers, which join the strings). For tests, examples and pre-flight checks.
 */
export function createStaticResolver(zone: ZoneData): Resolver {
  const table = new Map<string, Readonly<Record<string, readonly unknown[] | undefined>>>();
  for (const [name, records] of Object.entries(zone))
    table.set(name.toLowerCase().replace(/\.$/, ''), records);
  return async (name, rrtype) => {
    const records = table.get(name.toLowerCase().replace(/\.$/, ''));
    if (!records) throw dnsError('ENOTFOUND', name, rrtype);
    const answers = records[rrtype.toUpperCase()];
    if (!answers || answers.length === 0) throw dnsError('ENODATA', name, rrtype);
    return answers.map((answer) =>
      rrtype.toUpperCase() === 'TXT' && typeof answer === 'string' ? [answer] : answer,
    );
  };
}
