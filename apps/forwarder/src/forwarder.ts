// openForwarder: the forwarder assembled from its stages (DESIGN.md's pipeline):
//   MX listener (STARTTLS) -> checks (modules) -> RCPT policy (domains, rules, SRS) -> DATA:
//   verify -> DMARC policy -> rules -> SRS -> ARC seal -> queue commit -> 250
//   worker -> SMTP courier (or webhook) -> delivered | deferred | bounced -> DSN to the original sender
// plus the admin HTTP listener (metrics, queue API, destination confirmation pages). close() is the
// graceful shutdown: stop accepting, finish or give back deliveries, close the queue and store.

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createCachingResolver, createResolver, createSrs, type Srs } from '@mailyard/auth';
import {
  type BounceNotice,
  createQueueHttpHandler,
  createWorker,
  type DelayNotices,
  openMtaQueue,
  type Queue,
  type Worker,
} from '@mailyard/queue';
import {
  type AdminHttp,
  createLogger,
  createMtaMetrics,
  createShutdown,
  deliveryCourierOptions,
  deliveryWorkerOptions,
  type Logger,
  type MtaMetrics,
  openAdminHttp,
  silentLogger,
} from '@mailyard/service';
import {
  type Check,
  createDnsResolver,
  createSmtpCourier,
  createSmtpServer,
  type DnsResolver,
  type ListeningAddress,
  loadChecks,
  parseAddress,
  type SmtpBackend,
  withChecks,
} from '@mailyard/smtp';
import { createClientRate } from './client-rate.ts';
import { type DestinationStore, openPostgresDestinations, openSqliteDestinations } from './destinations.ts';
import { createForwardBackend } from './forward-backend.ts';
import { createForwardPipeline, type ForwardPipeline } from './forward-pipeline.ts';
import type { ForwarderConfig } from './forwarder-config.ts';
import { sendVerificationMail, verificationRoute } from './verification.ts';
import { createRoutingCourier, createWebhookCourier } from './webhook-courier.ts';

export interface OpenForwarderOptions {
  readonly logger?: Logger;
  /** Names this process's queue worker (default host:pid:random). */
  readonly owner?: string;
  /** Imports a check module by name; pass `(name) => import(name)` from where the modules are installed. */
  readonly importCheck?: (specifier: string) => Promise<unknown>;
}

export interface Forwarder extends AsyncDisposable {
  /** The bound MX listener. */
  readonly listener: ListeningAddress;
  /** `http://host:port` of the admin listener, or null. */
  readonly adminUrl: string | null;
  readonly queue: Queue;
  readonly pipeline: ForwardPipeline;
  readonly srs: Srs;
  readonly destinations: DestinationStore | null;
  readonly metrics: MtaMetrics;
  readonly worker: Worker;
  readonly delayNotices: DelayNotices;
  close(options?: { deadlineMs?: number }): Promise<void>;
}

/** A bounce notice addressed to the original sender, not to the SRS address the message was queued with. */
function toOriginalSender(notice: BounceNotice): BounceNotice {
  const original = notice.meta.originalSender;
  if (typeof original !== 'string') return notice;
  return { ...notice, envelope: { ...notice.envelope, mailFrom: parseAddress(original) } };
}

/**
 * Loads the configured check modules (by package name from the forwarder's dependencies, or a
 * file beside the configuration); throws CheckConfigError naming each bad entry's place.
 */
export function loadForwarderChecks(
  config: Pick<ForwarderConfig, 'checks' | 'file' | 'dns'>,
  host: { resolver?: DnsResolver; logger?: Logger } = {},
  importCheck: (specifier: string) => Promise<unknown> = (name) => import(name),
): Promise<Check[]> {
  const dns = config.dns.servers.length > 0 ? { servers: config.dns.servers } : undefined;
  return loadChecks(
    config.checks,
    {
      resolver: host.resolver ?? createDnsResolver(dns),
      logger: host.logger ?? silentLogger,
      configDir: dirname(config.file),
    },
    importCheck,
  );
}

export async function openForwarder(
  config: ForwarderConfig,
  options: OpenForwarderOptions = {},
): Promise<Forwarder> {
  const logger = options.logger ?? createLogger({ app: 'forwarder', level: config.log.level });
  mkdirSync(join(config.dataDir, 'spool'), { recursive: true, mode: 0o700 });
  // Opened in dependency order, so closing (newest first) stops accepting first, then deliveries,
  // the queue and its store last; a start that fails half way closes what it opened.
  const shutdown = createShutdown(logger, 'forwarder');
  try {
    const mta = await openMtaQueue({
      settings: config.queue,
      dataDir: config.dataDir,
      reportingMta: config.hostname,
      logger,
      notice: toOriginalSender,
    });
    shutdown.add(() => mta.close());
    const { queue, delayNotices } = mta;
    const metrics = createMtaMetrics(queue);
    shutdown.add(() => metrics.close());
    const srs = createSrs({
      domain: config.srs.domain,
      secrets: config.srs.secrets,
      maxAgeDays: config.srs.maxAgeDays,
    });
    const dnsServers = config.dns.servers.length > 0 ? { servers: config.dns.servers } : undefined;
    const destinations = config.destinations.verify
      ? config.queue.url
        ? await openPostgresDestinations(config.queue.url, config.queue.schema)
        : openSqliteDestinations(join(config.dataDir, 'destinations.db'))
      : null;
    if (destinations) shutdown.add(() => destinations.close());
    const pipeline = createForwardPipeline({
      hostname: config.hostname,
      queue,
      router: config.router,
      srs,
      srsDomain: config.srs.domain,
      // Senders repeat: their SPF, DKIM and DMARC records are asked for once per `dns.cacheTtl`.
      resolver:
        config.dns.cacheTtlMs > 0
          ? createCachingResolver(createResolver(dnsServers ?? {}), { ttlMs: config.dns.cacheTtlMs })
          : createResolver(dnsServers ?? {}),
      arcKey: config.arc,
      dmarc: config.dmarc,
      subaddress: config.subaddress,
      destinations,
      spoolDir: join(config.dataDir, 'spool'),
      logger,
      onVerificationNeeded: async (address, token) => {
        const publicUrl = config.destinations.publicUrl ?? admin?.url ?? '';
        try {
          const queueId = await sendVerificationMail(queue, address, token, {
            hostname: config.hostname,
            publicUrl,
          });
          logger.info({ rcpt: address, queueId }, 'destination confirmation sent');
        } catch (error) {
          // The message itself is still held (not lost); the operator sees why no link went out.
          logger.error({ rcpt: address, err: error }, 'destination confirmation not sent');
        }
      },
    });
    const checkResolver = createDnsResolver(dnsServers);
    const checks = await loadForwarderChecks(
      config,
      { resolver: checkResolver, logger },
      options.importCheck,
    );
    let backend: SmtpBackend = createForwardBackend({
      pipeline,
      domains: new Set(config.domains),
      connectionRate: config.limits.connectionsPerMinute
        ? createClientRate(config.limits.connectionsPerMinute)
        : null,
      messageRate: config.limits.messagesPerMinute ? createClientRate(config.limits.messagesPerMinute) : null,
      logger,
      onReply: (code) => metrics.reply(code),
    });
    if (checks.length > 0)
      backend = withChecks(backend, checks, { resolver: checkResolver, logger, tagHeader: false });
    const courier = createSmtpCourier(deliveryCourierOptions(config));
    const worker = createWorker({
      queue,
      courier: createRoutingCourier(
        courier,
        createWebhookCourier({
          endpoints: config.webhooks,
          originalSender: (from) => {
            if (from === null) return null;
            const back = srs.reverse(from);
            return back.ok ? back.address : from;
          },
        }),
      ),
      ...deliveryWorkerOptions(config),
      logger,
      ...(options.owner ? { owner: options.owner } : {}),
    });
    worker.start();
    shutdown.add(async () => {
      await worker.stop();
      await courier.close();
    });
    let admin: AdminHttp | null = null;
    if (config.admin) {
      admin = await openAdminHttp({
        ...config.admin,
        registry: metrics.registry,
        logger,
        ...(destinations ? { publicRoutes: [verificationRoute(destinations, queue)] } : {}),
        routes: [createQueueHttpHandler(queue, { logger })],
      });
      shutdown.add(() => admin?.close());
    }
    const server = createSmtpServer(
      {
        hostname: config.hostname,
        listeners: [
          {
            name: 'mx',
            host: config.listen.host,
            port: config.listen.port,
            tls: config.tls ? 'starttls' : 'none',
          },
        ],
        ...(config.tls ? { tls: config.tls } : {}),
        maxMessageSize: config.queue.maxMessageSize,
        limits: { maxRecipients: config.limits.maxRecipients },
        logger,
      },
      backend,
    );
    const [listener] = await server.listen();
    shutdown.add(({ deadlineMs }) => server.close({ deadline: deadlineMs ?? 10_000 }));
    logger.info(
      { listen: `${listener?.host}:${listener?.port}`, admin: admin?.url ?? null, domains: config.domains },
      'forwarder started',
    );
    const close = (closeOptions: { deadlineMs?: number } = {}): Promise<void> => shutdown.close(closeOptions);
    return {
      listener: listener as ListeningAddress,
      adminUrl: admin?.url ?? null,
      queue,
      pipeline,
      srs,
      destinations,
      metrics,
      worker,
      delayNotices,
      close,
      [Symbol.asyncDispose]: () => close(),
    };
  } catch (error) {
    await shutdown.close({ deadlineMs: 1000 });
    throw error;
  }
}
