// Next-hop resolution for a mail domain, RFC 5321 §5.1: MX records in order of preference, with
// a random order among equal preferences (load spreading); no MX records means the implicit MX
// (the domain itself, preference 0); a null MX (RFC 7505 `MX 0 .`) means the domain accepts no
// mail, a permanent failure (556 5.1.10, RFC 7505 §4.2). A domain that does not exist (NXDOMAIN)
// is permanent; a DNS server failure or timeout is temporary. Addresses of each host (A, then
// AAAA) are looked up one host at a time, so a broken lower-preference host costs nothing until
// it is needed.

import { isIP } from 'node:net';
import { SmtpError } from '../smtp-error.ts';
import { classifyDnsError, type DnsResolver } from './dns-resolver.ts';

export interface MxHost {
  /** Host name (lower case, no trailing dot) or an IP address from an address literal. */
  readonly exchange: string;
  readonly priority: number;
  /** No MX record: the domain itself is the host (RFC 5321 §5.1 implicit MX). */
  readonly implicit: boolean;
}

export type MxResolution =
  | { readonly ok: true; readonly hosts: readonly MxHost[] }
  | { readonly ok: false; readonly error: SmtpError };

export type AddressResolution =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly error: SmtpError };

export interface ResolveOptions {
  readonly resolver: DnsResolver;
  /** Source of randomness for ordering equal preferences (default Math.random). */
  readonly random?: () => number;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Resolves the MX hosts of a domain (A-labels) or address literal, best first. */
export async function resolveMxHosts(domain: string, options: ResolveOptions): Promise<MxResolution> {
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain);
  if (literal?.[1] && isIP(literal[1])) {
    return { ok: true, hosts: [{ exchange: literal[1], priority: 0, implicit: true }] };
  }
  const name = canonical(domain);
  let records: { priority: number; exchange: string }[];
  try {
    records = await options.resolver.resolveMx(name);
  } catch (error) {
    const kind = classifyDnsError(error);
    if (kind === 'notFound') {
      return {
        ok: false,
        error: new SmtpError(550, '5.1.2', `Domain ${name} does not exist`, { cause: error }),
      };
    }
    if (kind === 'noData') return { ok: true, hosts: [{ exchange: name, priority: 0, implicit: true }] };
    return {
      ok: false,
      error: new SmtpError(451, '4.4.3', `MX lookup for ${name} failed`, { cause: error }),
    };
  }
  if (records.length === 0) return { ok: true, hosts: [{ exchange: name, priority: 0, implicit: true }] };
  // RFC 7505 §3: a null MX is the only record of a domain that takes no mail. A null MX next to
  // real ones is a misconfiguration; the owner said "no mail" somewhere, so honour that.
  if (records.some((r) => canonical(r.exchange) === '')) {
    return {
      ok: false,
      error: new SmtpError(556, '5.1.10', `Domain ${name} does not accept mail (null MX)`),
    };
  }
  const hosts = shuffle(
    records.map((r) => ({ exchange: canonical(r.exchange), priority: r.priority, implicit: false })),
    options.random ?? Math.random,
  ).sort((a, b) => a.priority - b.priority);
  return { ok: true, hosts };
}

/**
 * Looks up the addresses of one host: IPv4 first, then IPv6. A name without any address is a
 * permanent failure; a lookup failure is temporary.
 */
export async function resolveHostAddresses(
  host: string,
  options: ResolveOptions,
): Promise<AddressResolution> {
  if (isIP(host)) return { ok: true, addresses: [host] };
  const [v4, v6] = await Promise.allSettled([
    options.resolver.resolve4(host),
    options.resolver.resolve6(host),
  ]);
  const addresses = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (addresses.length > 0) return { ok: true, addresses };
  const failures = [v4, v6].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  const temporary = failures.find((reason) => classifyDnsError(reason) === 'temporary');
  if (temporary !== undefined) {
    return {
      ok: false,
      error: new SmtpError(451, '4.4.3', `Address lookup for ${host} failed`, { cause: temporary }),
    };
  }
  return {
    ok: false,
    error: new SmtpError(550, '5.1.2', `Host ${host} has no address`, { cause: failures[0] }),
  };
}
