// The SMTP courier of an MTA, from its configuration: MX resolution through `dns.servers`,
// opportunistic (or required) STARTTLS, MTA-STS enforced where published (RFC 8461), named
// smarthosts, connection reuse. The app puts it under the queue's worker (one transaction per next
// hop, per-next-hop concurrency, retries) and, where it signs or seals, inside a stamping courier.

import {
  createDnsResolver,
  createMtaStsFetcher,
  type SmarthostOptions,
  type SmtpCourierOptions,
} from '@mailyard/smtp';
import type { MtaConfig, SmarthostConfig } from './mta-sections.ts';

/**
 * The queue's next hop for a smarthost (`smarthost:name`, from a rule's `relay` action): domains
 * cannot contain `:`, so the two never collide.
 */
export const SMARTHOST_PREFIX = 'smarthost:';

function smarthostOptions(config: SmarthostConfig): SmarthostOptions {
  return {
    host: config.host,
    tls: config.tls,
    verifyCertificate: config.verifyCertificate,
    ...(config.port !== undefined ? { port: config.port } : {}),
    ...(config.username !== null
      ? { auth: { username: config.username, password: config.password ?? '' } }
      : {}),
  };
}

/** Options for `createSmtpCourier`; each call makes its own MTA-STS policy cache. */
export function deliveryCourierOptions(
  config: Pick<MtaConfig, 'hostname' | 'dns' | 'delivery' | 'smarthosts'>,
): SmtpCourierOptions {
  const dns = config.dns.servers.length > 0 ? { servers: config.dns.servers } : undefined;
  const smarthosts = new Map(
    Object.entries(config.smarthosts).map(([name, c]) => [name, smarthostOptions(c)]),
  );
  return {
    localName: config.hostname,
    ...(dns ? { dns } : {}),
    port: config.delivery.port,
    tls: config.delivery.tls,
    ...(config.delivery.mtaSts ? { mtaSts: createMtaStsFetcher({ resolver: createDnsResolver(dns) }) } : {}),
    smarthost: (nextHop) =>
      nextHop.startsWith(SMARTHOST_PREFIX)
        ? smarthosts.get(nextHop.slice(SMARTHOST_PREFIX.length))
        : undefined,
    ...(config.delivery.reuseIdleMs > 0 ? { reuse: { idleMs: config.delivery.reuseIdleMs } } : {}),
  };
}

/** The queue worker's limits from the `delivery` section (`createWorker` from @mailyard/queue takes them). */
export function deliveryWorkerOptions(config: Pick<MtaConfig, 'delivery'>): {
  readonly concurrency: number;
  readonly perNextHop: number;
  readonly leaseMs: number;
  readonly pollMs: number;
} {
  const { concurrency, perNextHop, leaseMs, pollMs } = config.delivery;
  return { concurrency, perNextHop, leaseMs, pollMs };
}
