// The DNS resolver the client and next-hop resolution use. It enters through options (STYLE.md:
// I/O at the edges): either any object shaped like node:dns/promises `Resolver`, or
// `{ servers: ['ip[:port]'] }` to point a fresh Resolver at a private or test DNS server.
// It also classifies resolver errors the way RFC 5321 §5.1 needs them: a name that does not exist
// is a permanent answer; a server failure or timeout is temporary.

import { Resolver } from 'node:dns/promises';

/** The subset of node:dns/promises `Resolver` that delivery needs. */
export interface DnsResolver {
  resolveMx(hostname: string): Promise<{ priority: number; exchange: string }[]>;
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
  resolveTxt(hostname: string): Promise<string[][]>;
}

export interface DnsServersOptions {
  /** `ip` or `ip:port` (`[v6]:port`), as `Resolver#setServers` takes them. */
  readonly servers: readonly string[];
  /** Per-try timeout in milliseconds (default 5000). */
  readonly timeout?: number;
  /** Tries per server (default 2). */
  readonly tries?: number;
}

export type DnsOption = DnsResolver | DnsServersOptions;

export function createDnsResolver(option?: DnsOption): DnsResolver {
  if (option && !('servers' in option)) return option;
  const resolver = new Resolver({ timeout: option?.timeout ?? 5_000, tries: option?.tries ?? 2 });
  if (option?.servers) resolver.setServers([...option.servers]);
  return resolver;
}

/**
 * - `notFound`: the name does not exist (NXDOMAIN): permanent.
 * - `noData`: the name exists but has no record of that type.
 * - `temporary`: SERVFAIL, timeout, refused, anything else: try again later.
 */
export type DnsErrorKind = 'notFound' | 'noData' | 'temporary';

export function classifyDnsError(error: unknown): DnsErrorKind {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOTFOUND') return 'notFound';
  if (code === 'ENODATA') return 'noData';
  return 'temporary';
}
