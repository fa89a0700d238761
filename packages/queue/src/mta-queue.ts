// The queue side of an MTA, as the relay and the forwarder both run it: the store its settings
// name (openQueueStore), the queue with DSNs for bounced recipients (createBounceHandler), and the
// `delayed` DSN scan with its ledger beside the store (startDelayNotices). One function, so both
// apps open, notify and close their queue the same way; the app adds its worker and listeners.

import { openDelayLedger } from './delay-ledger.ts';
import { createBounceHandler, type DelayNotices, startDelayNotices } from './dsn-notices.ts';
import type { QueueLogger } from './events.ts';
import { openQueueStore } from './open-queue-store.ts';
import { type BounceNotice, openQueue, type Queue } from './queue.ts';
import { DEFAULT_LIFETIME_MS } from './retry.ts';
import type { QueueStore } from './store.ts';

/** An app's `queue` settings (the shape @mailyard/service's QueueConfig has). */
export interface MtaQueueSettings {
  /** `postgres://…`, or null for SQLite in the data dir. */
  readonly url: string | null;
  readonly schema: string | null;
  /** Delays between attempts; null for the queue's schedule. */
  readonly retry: readonly number[] | null;
  /** How long a message may wait before it bounces; null for 5 days. */
  readonly lifetimeMs: number | null;
  /** When a `delayed` DSN goes out. */
  readonly delayNoticeMs: number;
  /** The SIZE the SMTP listeners announce; the queue takes that plus our trace fields. */
  readonly maxMessageSize: number;
}

export interface MtaQueueOptions {
  readonly settings: MtaQueueSettings;
  readonly dataDir: string;
  /** Our host name: the Reporting-MTA of DSNs. */
  readonly reportingMta: string;
  readonly logger: QueueLogger;
  /**
   * The notice a DSN is built from; default the queue's own. The forwarder uses it to send DSNs
   * to the original sender rather than to the SRS address the message was queued with.
   */
  readonly notice?: (notice: BounceNotice) => BounceNotice;
}

/** Room for the header fields an MTA adds on top of a message of the announced SIZE. */
export const TRACE_ALLOWANCE = 64 * 1024;

export interface MtaQueue extends AsyncDisposable {
  readonly store: QueueStore;
  readonly queue: Queue;
  readonly delayNotices: DelayNotices;
  /** Stops the delay scan, then closes the queue and its store. Call it after the worker stopped. */
  close(): Promise<void>;
}

export async function openMtaQueue(options: MtaQueueOptions): Promise<MtaQueue> {
  const { logger, settings } = options;
  // The store logs its own trouble (a store thread that died and was restarted) to the app's log.
  const location = { url: settings.url, schema: settings.schema, dataDir: options.dataDir, logger };
  const lifetimeMs = settings.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  const store = await openQueueStore(location);
  let queue: Queue | undefined;
  try {
    const bounce = createBounceHandler(() => queue as Queue, { reportingMta: options.reportingMta, logger });
    const rewrite = options.notice;
    queue = await openQueue({
      store,
      logger,
      maxMessageSize: settings.maxMessageSize + TRACE_ALLOWANCE,
      retry: { ...(settings.retry ? { schedule: settings.retry } : {}), lifetimeMs },
      onBounce: rewrite ? (notice) => bounce(rewrite(notice)) : bounce,
    });
    const opened = queue;
    const ledger = await openDelayLedger(location);
    const delayNotices = startDelayNotices({
      queue: opened,
      ledger,
      delayNoticeMs: settings.delayNoticeMs,
      lifetimeMs,
      reportingMta: options.reportingMta,
      logger,
    });
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        await delayNotices.close();
        await opened.close();
        await store.close();
      })();
      return closing;
    };
    return { store, queue: opened, delayNotices, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await queue?.close();
    await store.close();
    throw error;
  }
}
