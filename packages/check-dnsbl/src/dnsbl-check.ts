// The DNSBL check (RFC 5782): asks IP block lists about the client's address and domain block
// lists (RHSBL) about the MAIL FROM domain and the HELO name, all lists in parallel, and rejects
// (554 5.7.1, Postfix's wording) or tags when one lists them. The client's lookups start at
// connect and are kept for the connection, so every RCPT of every transaction waits on the
// same answers; domain answers are kept per domain for the connection too.

import type {
  Address,
  Check,
  CheckContext,
  CheckHost,
  CheckVerdict,
  ConnectionInfo,
  Recipient,
} from '@mailyard/smtp';
import { normalizeDomain, SmtpError } from '@mailyard/smtp';
import { type Listing, lookup } from './lookup.ts';
import { type DnsblConfig, parseDnsblOptions, type ZoneConfig } from './options.ts';
import { domainQueryName, ipQueryName, unmapIPv4 } from './query-name.ts';

interface ConnectionLookups {
  client?: Promise<Listing[]>;
  readonly domains: Map<string, Promise<Listing[]>>;
}

const ACCEPT: CheckVerdict = { action: 'accept' };

/** The text a client sees for a listing. */
export function describeListing(listing: Listing): string {
  const who =
    listing.target === 'client'
      ? `client [${listing.subject}]`
      : listing.target === 'mailFrom'
        ? `sender domain ${listing.subject}`
        : `HELO name ${listing.subject}`;
  const reason = listing.reason ? `; ${listing.reason}` : '';
  return `Service unavailable; ${who} blocked using ${listing.zone}${reason}`;
}

function logLine(listing: Listing): string {
  return `${listing.target} ${listing.subject} listed in ${listing.zone} (${listing.codes.join(',')})`;
}

/** A HELO argument worth asking a domain list about: a domain name, not an address literal. */
function heloDomain(helo: string | null): string | null {
  if (!helo || helo.startsWith('[') || !helo.includes('.')) return null;
  try {
    return normalizeDomain(helo);
  } catch {
    return null;
  }
}

export function createDnsblCheckFromConfig(config: DnsblConfig, host: Omit<CheckHost, 'path'>): Check {
  const { resolver, logger } = host;
  const byConnection = new WeakMap<ConnectionInfo, ConnectionLookups>();

  const stateOf = (connection: ConnectionInfo): ConnectionLookups => {
    let state = byConnection.get(connection);
    if (!state) {
      state = { domains: new Map() };
      byConnection.set(connection, state);
    }
    return state;
  };

  const ask = (
    zones: readonly ZoneConfig[],
    target: Listing['target'],
    subject: string,
    name: (zone: string) => string,
  ) =>
    Promise.all(
      zones.map((zone) =>
        lookup({
          resolver,
          logger,
          timeoutMs: config.timeoutMs,
          target,
          subject,
          zone,
          name: name(zone.zone),
        }),
      ),
    ).then((found) => found.filter((listing) => listing !== null));

  const clientListings = (connection: ConnectionInfo): Promise<Listing[]> => {
    const state = stateOf(connection);
    if (!state.client) {
      const ip = unmapIPv4(connection.remoteAddress);
      state.client =
        config.zones.length === 0
          ? Promise.resolve([])
          : ask(config.zones, 'client', ip, (zone) => ipQueryName(ip, zone));
    }
    return state.client;
  };

  const domainListings = (connection: ConnectionInfo, target: 'mailFrom' | 'helo', domain: string) => {
    const domains = stateOf(connection).domains;
    let found = domains.get(`${target} ${domain}`);
    if (!found) {
      found = ask(config.domainZones, target, domain, (zone) => domainQueryName(domain, zone));
      domains.set(`${target} ${domain}`, found);
    }
    return found;
  };

  /** Every listing of this client and transaction: client lists first, in config order. */
  const listings = async (context: CheckContext, from: Address | null | undefined): Promise<Listing[]> => {
    const asked = [clientListings(context.connection)];
    if (config.domainZones.length > 0) {
      const sender = from && !from.domain.startsWith('[') ? from.domain : null;
      if (sender && config.domains.includes('mailFrom'))
        asked.push(domainListings(context.connection, 'mailFrom', sender));
      const helo = config.domains.includes('helo') ? heloDomain(context.connection.helo) : null;
      if (helo) asked.push(domainListings(context.connection, 'helo', helo));
    }
    return (await Promise.all(asked)).flat();
  };

  const verdict = (found: readonly Listing[]): CheckVerdict => {
    const first = found[0];
    if (!first) return ACCEPT;
    const reason = found.map(logLine).join('; ');
    if (config.action === 'tag') return { action: 'tag', tag: reason, reason };
    return { action: 'reject', error: new SmtpError(554, '5.7.1', describeListing(first)), reason };
  };

  const skipped = (context: CheckContext) => config.skipAuthenticated && context.connection.user !== null;

  const check: Check = {
    name: 'dnsbl',
    // Our own lookups give up (fail open) first; the host's limit is only a backstop.
    timeoutMs: 2 * config.timeoutMs + 1_000,
    async connect(context) {
      const client = clientListings(context.connection);
      if (config.action === 'reject' && config.stage === 'connect') return verdict(await client);
      return ACCEPT;
    },
    async mail(from, context) {
      if (skipped(context)) return ACCEPT;
      const found = listings(context, from);
      if (config.action === 'tag' || config.stage !== 'rcpt') return verdict(await found);
      return ACCEPT;
    },
  };
  if (config.action === 'reject' && config.stage === 'rcpt') {
    check.rcpt = async (to: Recipient, context: CheckContext) => {
      if (skipped(context)) return ACCEPT;
      if (config.exempt.includes(to.address.localPart.toLowerCase())) return ACCEPT;
      return verdict(await listings(context, context.envelope?.mailFrom));
    };
  }
  return check;
}

/** The check module's factory: validates `options` (paths under `host.path`) and builds the check. */
export function createCheck(options: unknown, host: CheckHost): Check {
  return createDnsblCheckFromConfig(parseDnsblOptions(options, host.path), host);
}
