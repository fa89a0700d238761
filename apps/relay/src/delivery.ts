// Delivery wiring of a relaying app: the SMTP courier of @mailyard/smtp (MX resolution through
// `dns.servers`, opportunistic STARTTLS, MTA-STS enforced where published — RFC 8461 —, named
// smarthosts, connection reuse) under the queue's worker (one transaction per next hop, per-next-hop
// concurrency, retries); the queue logs one line per state change of a recipient. Not relay-specific:
// the forwarder delivers the same way (a candidate for a shared package).

import { createWorker, type Queue, type Worker } from '@mailyard/queue';
import {
  createDnsResolver,
  createMtaStsFetcher,
  createSmtpCourier,
  type SmarthostOptions,
  type SmtpCourier,
} from '@mailyard/smtp';
import { SMARTHOST_PREFIX } from './accept-pipeline.ts';
import type { DkimSigner } from './dkim-signer.ts';
import type { Logger } from './logger.ts';
import type { RelayConfig, SmarthostConfig } from './relay-config.ts';
import { createSigningCourier } from './signing-courier.ts';

export interface DeliveryOptions {
  readonly queue: Queue;
  readonly config: Pick<RelayConfig, 'hostname' | 'dns' | 'delivery' | 'smarthosts'>;
  readonly logger: Logger;
  /** Signs each message as it is delivered (DKIM). */
  readonly signer: DkimSigner;
  /** Names this process's worker in leases. */
  readonly owner?: string;
}

export interface Delivery extends AsyncDisposable {
  readonly worker: Worker;
  readonly courier: SmtpCourier;
  /** Stops leasing, lets deliveries under way finish (or gives their leases back), closes connections. */
  stop(): Promise<void>;
}

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

export function startDelivery(options: DeliveryOptions): Delivery {
  const { queue, config, logger } = options;
  const dns = config.dns.servers.length > 0 ? { servers: config.dns.servers } : undefined;
  const smarthosts = new Map(
    Object.entries(config.smarthosts).map(([name, c]) => [name, smarthostOptions(c)]),
  );
  const courier = createSmtpCourier({
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
  });
  const worker = createWorker({
    queue,
    courier: createSigningCourier(courier, options.signer),
    concurrency: config.delivery.concurrency,
    perNextHop: config.delivery.perNextHop,
    leaseMs: config.delivery.leaseMs,
    pollMs: config.delivery.pollMs,
    logger,
    ...(options.owner ? { owner: options.owner } : {}),
  });
  worker.start();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await worker.stop();
      await courier.close();
    })();
    return stopped;
  };
  return { worker, courier, stop, [Symbol.asyncDispose]: stop };
}
