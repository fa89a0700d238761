// MTA-STS, RFC 8461: the policy a recipient domain publishes to require verified TLS towards the
// MX hosts it names. Owns the policy type, policy-file parsing (§3.2), MX matching (§4.1) and a
// fetcher: TXT discovery at `_mta-sts.<domain>` (§3.1) through the injected DNS resolver, the
// policy file over HTTPS (§3.3) through an injected `fetch`, and a cache keyed by policy id that
// honours max_age (§5.1). Enforcement (only matching MX hosts, verified TLS, deferral otherwise)
// is the courier's job. Limits: no TLSRPT reports (RFC 8460); the cache lives in memory only.

import { classifyDnsError, type DnsResolver } from './dns-resolver.ts';

export interface MtaStsPolicy {
  /** `enforce`: deliver only to matching MX hosts over verified TLS; `testing`/`none`: advisory. */
  readonly mode: 'enforce' | 'testing' | 'none';
  /** MX patterns: host names, or `*.example.com` for exactly one extra left-most label. */
  readonly mx: readonly string[];
  /** Seconds the policy may be cached. */
  readonly maxAge?: number;
}

/** Returns the policy of a recipient domain, or `null` when it has none. */
export type MtaStsPolicySource = (domain: string) => Promise<MtaStsPolicy | null>;

/** Parses a policy file (RFC 8461 §3.2); returns `null` when it is not a valid STSv1 policy. */
export function parseMtaStsPolicy(text: string): MtaStsPolicy | null {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const values = fields.get(key) ?? [];
    values.push(line.slice(colon + 1).trim());
    fields.set(key, values);
  }
  const version = fields.get('version')?.[0];
  const mode = fields.get('mode')?.[0];
  const maxAge = Number(fields.get('max_age')?.[0]);
  if (version !== 'STSv1' || (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')) return null;
  if (!Number.isInteger(maxAge) || maxAge < 0) return null;
  const mx = (fields.get('mx') ?? []).map((m) => m.toLowerCase().replace(/\.$/, ''));
  if (mode !== 'none' && mx.length === 0) return null;
  return { mode, mx, maxAge };
}

/** RFC 8461 §4.1: does an MX host name match one of the policy's patterns? */
export function mxMatchesPolicy(host: string, policy: MtaStsPolicy): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((pattern) => {
    if (!pattern.startsWith('*.')) return pattern === name;
    const dot = name.indexOf('.');
    return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
  });
}

export interface MtaStsFetcherOptions {
  readonly resolver: DnsResolver;
  /** An HTTPS client shaped like the global `fetch` (default: the global one). */
  readonly fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Milliseconds for the policy fetch (RFC 8461 §3.3 suggests a short timeout; default 10 s). */
  readonly timeoutMs?: number;
  /** Clock for cache expiry (default Date.now). */
  readonly now?: () => number;
}

const MAX_POLICY_BYTES = 64 * 1024;

/**
 * Fetches and caches MTA-STS policies. A temporary failure (DNS or HTTPS) falls back to an
 * unexpired cached policy, else to no policy, as RFC 8461 §5.1 and §10.3 describe.
 */
export function createMtaStsFetcher(options: MtaStsFetcherOptions): MtaStsPolicySource {
  const fetchPolicy = options.fetch ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const cache = new Map<string, { id: string; policy: MtaStsPolicy; expires: number }>();
  return async (domain) => {
    const name = domain.toLowerCase().replace(/\.$/, '');
    const cached = cache.get(name);
    const valid = cached && cached.expires > now() ? cached : undefined;
    let id: string | undefined;
    try {
      const records = await options.resolver.resolveTxt(`_mta-sts.${name}`);
      const sts = records.map((r) => r.join('')).filter((r) => /^v=STSv1\s*(;|$)/.test(r));
      if (sts.length !== 1) return valid?.policy ?? null;
      id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(?:;|$)/.exec(sts[0] ?? '')?.[1];
      if (!id) return valid?.policy ?? null;
    } catch (error) {
      if (classifyDnsError(error) !== 'temporary') cache.delete(name);
      return classifyDnsError(error) === 'temporary' ? (valid?.policy ?? null) : null;
    }
    if (valid && valid.id === id) return valid.policy;
    try {
      const response = await fetchPolicy(`https://mta-sts.${name}/.well-known/mta-sts.txt`, {
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const type = response.headers.get('content-type') ?? '';
      if (response.status !== 200 || !/^text\/plain\b/i.test(type)) return valid?.policy ?? null;
      const text = await response.text();
      const policy = text.length <= MAX_POLICY_BYTES ? parseMtaStsPolicy(text) : null;
      if (!policy) return valid?.policy ?? null;
      cache.set(name, { id, policy, expires: now() + (policy.maxAge ?? 0) * 1000 });
      return policy;
    } catch {
      return valid?.policy ?? null;
    }
  };
}
