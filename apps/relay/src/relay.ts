// openRelay: the outbound MTA assembled from its stages (DESIGN.md's pipeline):
//   SMTP listeners (submission: STARTTLS + AUTH; submissions: implicit TLS + AUTH; trusted: CIDR
//   allow list without AUTH) -> policy -> rules -> DKIM -> queue commit -> 250
//   worker -> SMTP courier -> delivered | deferred | bounced -> DSN (RFC 3464) to the sender
// plus the admin HTTP listener (with the queue's API and message injection). What every MTA shares
// comes from the packages: config sections, logger, metrics and the admin listener from
// @mailyard/service; the store, DSNs and the delay ledger from @mailyard/queue; the stamping
// courier from @mailyard/smtp. close() is the graceful shutdown: stop accepting (421 to idle
// clients, transactions under way may finish), stop leasing and finish or give back deliveries,
// then close the queue and its store.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createQueueHttpHandler, type DelayNotices, openMtaQueue, type Queue } from '@mailyard/queue';
import {
  type AdminHttp,
  createLogger,
  createMtaMetrics,
  createShutdown,
  type Logger,
  type MtaMetrics,
  openAdminHttp,
} from '@mailyard/service';
import {
  createDnsResolver,
  createSmtpServer,
  type ListeningAddress,
  loadChecks,
  type SmtpListenerOptions,
  type SmtpServer,
  withChecks,
} from '@mailyard/smtp';
import { type AcceptPipeline, createAcceptPipeline } from './accept-pipeline.ts';
import { createAuthThrottle } from './auth-throttle.ts';
import { type Delivery, startDelivery } from './delivery.ts';
import { createDkimSigner } from './dkim-signer.ts';
import { createInjectRoute } from './inject-route.ts';
import { createNetworkList } from './network-list.ts';
import type { RelayConfig } from './relay-config.ts';
import { createRelayBackend, TRUSTED_LISTENER } from './smtp-backend.ts';
import { openUsersFile } from './users-file.ts';

export interface OpenRelayOptions {
  readonly logger?: Logger;
  /** Names this process's queue worker (default host:pid:random). */
  readonly owner?: string;
  /** Imports a check module by name; default: resolved from the relay's own dependencies. */
  readonly importCheck?: (specifier: string) => Promise<unknown>;
}

export interface Relay extends AsyncDisposable {
  /** The bound SMTP listeners by name (`submission`, `submissions`, `trusted`). */
  readonly listeners: Readonly<Record<string, ListeningAddress>>;
  /** `http://host:port` of the admin listener, or null. */
  readonly adminUrl: string | null;
  readonly queue: Queue;
  readonly pipeline: AcceptPipeline;
  readonly metrics: MtaMetrics;
  readonly delivery: Delivery;
  readonly delayNotices: DelayNotices;
  /** Graceful shutdown; `deadlineMs` bounds how long SMTP transactions under way may take. */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

export async function openRelay(config: RelayConfig, options: OpenRelayOptions = {}): Promise<Relay> {
  const logger = options.logger ?? createLogger({ app: 'relay', level: config.log.level });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const signer = createDkimSigner(config.dkim);
  // Opened in dependency order, so closing (newest first) stops accepting first, then deliveries,
  // the queue and its store last; a start that fails half way closes what it opened.
  const shutdown = createShutdown(logger, 'relay');
  try {
    const mta = await openMtaQueue({
      settings: config.queue,
      dataDir: config.dataDir,
      reportingMta: config.hostname,
      logger,
    });
    shutdown.add(() => mta.close());
    const { queue, delayNotices } = mta;
    const metrics = createMtaMetrics(queue);
    shutdown.add(() => metrics.close());
    const delivery = startDelivery({
      queue,
      config,
      signer,
      logger,
      ...(options.owner ? { owner: options.owner } : {}),
    });
    shutdown.add(() => delivery.stop());
    const pipeline = createAcceptPipeline({
      queue,
      router: config.router,
      logger,
    });
    const checkResolver = createDnsResolver(
      config.dns.servers.length > 0 ? { servers: config.dns.servers } : undefined,
    );
    const checks = await loadChecks(
      config.checks,
      { resolver: checkResolver, logger, configDir: dirname(config.file) },
      options.importCheck ?? ((name) => import(name)),
    );
    const relayBackend = createRelayBackend({
      pipeline,
      users: config.usersFile ? openUsersFile(config.usersFile) : null,
      throttle: createAuthThrottle(config.authThrottle),
      grants: config.grants,
      localDomains: new Set(config.localDomains),
      trustedNetworks: config.listeners.trusted ? createNetworkList(config.listeners.trusted.networks) : null,
      router: config.router,
      logger,
      onReply: (code) => metrics.reply(code),
    });
    const backend =
      checks.length > 0
        ? withChecks(relayBackend, checks, { resolver: checkResolver, logger })
        : relayBackend;
    const listeners: SmtpListenerOptions[] = [];
    const { submission, submissions, trusted } = config.listeners;
    if (submission) listeners.push({ name: 'submission', ...submission, tls: 'starttls', requireAuth: true });
    if (submissions)
      listeners.push({ name: 'submissions', ...submissions, tls: 'implicit', requireAuth: true });
    if (trusted) {
      listeners.push({
        name: TRUSTED_LISTENER,
        host: trusted.host,
        port: trusted.port,
        tls: config.tls ? 'starttls' : 'none',
      });
    }
    let admin: AdminHttp | null = null;
    if (config.admin) {
      admin = await openAdminHttp({
        ...config.admin,
        registry: metrics.registry,
        logger,
        routes: [createQueueHttpHandler(queue, { logger }), createInjectRoute(pipeline, logger)],
      });
      shutdown.add(() => admin?.close());
    }
    const server: SmtpServer = createSmtpServer(
      {
        hostname: config.hostname,
        listeners,
        ...(config.tls ? { tls: config.tls } : {}),
        maxMessageSize: config.queue.maxMessageSize,
        logger,
      },
      backend,
    );
    const bound = await server.listen();
    shutdown.add(({ deadlineMs }) => server.close({ deadline: deadlineMs ?? 10_000 }));
    logger.info(
      {
        listeners: bound.map((l) => `${l.name}=${l.host}:${l.port}`),
        admin: admin?.url ?? null,
        queue: config.queue.url ? 'postgres' : 'sqlite',
      },
      'relay started',
    );
    const close = (closeOptions: { deadlineMs?: number } = {}): Promise<void> => shutdown.close(closeOptions);
    return {
      listeners: Object.fromEntries(bound.map((l) => [l.name, l])),
      adminUrl: admin?.url ?? null,
      queue,
      pipeline,
      metrics,
      delivery,
      delayNotices,
      close,
      [Symbol.asyncDispose]: () => close(),
    };
  } catch (error) {
    await shutdown.close({ deadlineMs: 1000 });
    throw error;
  }
}
