// A delivery worker: leases due recipients grouped by next hop, hands each group to the app's
// courier, and records one outcome per recipient. It bounds work overall and per next hop and
// paces each next hop; it never talks to the network itself (the courier does).
// Delivery is at least once: if this process dies, its leases expire and another worker retries.
// While it lives, it renews the leases of deliveries under way, so that a slow one (a large
// message to a slow MX) is not taken over and sent a second time.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Courier, type Outcome, SmtpError } from '@mailyard/smtp';
import type { QueueLogger } from './events.ts';
import type { LeasedBatch, Queue } from './queue.ts';
import { createTokenBuckets, type RateLimit } from './rate-limit.ts';

export interface WorkerOptions {
  readonly queue: Queue;
  readonly courier: Courier;
  /** Deliveries in flight at once, overall. Default 20. */
  readonly concurrency?: number;
  /** Deliveries in flight at once to one next hop. Default 4. */
  readonly perNextHop?: number;
  /** Pace per next hop (per worker). Default: none. */
  readonly rate?: RateLimit;
  /** Recipients in one delivery request. Default 100. */
  readonly maxRecipients?: number;
  /**
   * How long a lease holds. A delivery that takes longer keeps its lease by renewal (`renewMs`);
   * after a crash, its recipients wait this long before another worker retries them. Default 10 minutes.
   */
  readonly leaseMs?: number;
  /**
   * How often the leases of deliveries under way are extended, each time to `leaseMs` from then.
   * Default `leaseMs / 3`; 0 turns renewal off (a delivery must then finish within `leaseMs`).
   */
  readonly renewMs?: number;
  /** How often to look for due work when nothing wakes the worker. Default 1 second. */
  readonly pollMs?: number;
  /** On stop, how long deliveries under way may take before they are aborted. Default 30 s. */
  readonly stopGraceMs?: number;
  /** Names this worker in leases; default host:pid:random. */
  readonly owner?: string;
  readonly logger?: QueueLogger;
}

export interface Worker {
  readonly owner: string;
  /** Starts the delivery loop. */
  start(): void;
  /** Stops leasing, lets deliveries under way finish (or aborts them after the grace time). */
  stop(): Promise<void>;
  /** Delivers everything due now and returns the number of requests made (do not mix with start). */
  runOnce(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

const silent: QueueLogger = { info() {}, warn() {}, error() {} };

export function createWorker(options: WorkerOptions): Worker {
  const { queue, courier } = options;
  const concurrency = options.concurrency ?? 20;
  const perNextHop = options.perNextHop ?? 4;
  const maxRecipients = options.maxRecipients ?? 100;
  const leaseMs = options.leaseMs ?? 10 * 60_000;
  const renewMs = options.renewMs ?? Math.floor(leaseMs / 3);
  const pollMs = options.pollMs ?? 1000;
  const stopGraceMs = options.stopGraceMs ?? 30_000;
  const logger = options.logger ?? silent;
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const buckets = options.rate ? createTokenBuckets(options.rate) : undefined;
  const minFree = Math.max(1, Math.floor(concurrency / 4));

  const inflight = new Set<Promise<void>>();
  /** Outcomes being recorded, of deliveries no longer in flight. */
  const recordings = new Set<Promise<void>>();
  /** Batches at their courier, whose leases are renewed: recipients not lost, by batch. */
  const delivering = new Map<LeasedBatch, LeasedBatch>();
  let renewTimer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> | undefined;
  const pacedHops = new Set<string>();
  const perHop = new Map<string, number>();
  let controller = new AbortController();
  let running = false;
  let loopDone: Promise<void> | undefined;
  let poke: (() => void) | undefined;
  const wake = (): void => {
    const resolve = poke;
    poke = undefined;
    resolve?.();
  };

  const slotsFor = (hop: string): number => {
    const free = perNextHop - (perHop.get(hop) ?? 0);
    return buckets ? Math.min(free, buckets.available(hop)) : free;
  };

  /** Renews every lease of a delivery under way, `renewMs` from the last renewal. */
  function scheduleRenewal(): void {
    if (renewMs <= 0 || renewTimer || renewing || delivering.size === 0) return;
    renewTimer = setTimeout(() => {
      renewTimer = undefined;
      renewing = renewLeases().finally(() => {
        renewing = undefined;
        scheduleRenewal();
      });
    }, renewMs);
    // Deliveries keep the process alive; their renewal alone must not.
    renewTimer.unref();
  }

  async function renewLeases(): Promise<void> {
    const entries = [...delivering];
    if (entries.length === 0) return;
    try {
      const renewed = await queue.renew(
        entries.map(([, held]) => held),
        leaseMs,
      );
      renewed.forEach(({ batch, lost }, i) => {
        const original = entries[i]?.[0];
        // A delivery that ended meanwhile may have recorded its outcomes: those are not lost.
        if (!original || delivering.get(original) !== batch || lost.length === 0) return;
        const kept = batch.recipients.filter((r) => !lost.includes(r));
        if (kept.length > 0) delivering.set(original, { ...batch, recipients: kept });
        else delivering.delete(original);
        logger.warn(
          { queueId: batch.queueId, nextHop: batch.nextHop, rcpts: lost.map((r) => r.rcpt) },
          'worker: lease lost during delivery, another attempt may deliver these too',
        );
      });
    } catch (error) {
      // Never fatal: the leases still hold for a while, and the next renewal tries again.
      logger.warn({ err: error }, 'worker: could not renew leases');
    }
  }

  /**
   * The courier is done: its outcomes go to the store within the lease it has, and a renewal
   * racing their record would only find them "lost".
   */
  function doneDelivering(batch: LeasedBatch): void {
    delivering.delete(batch);
    if (delivering.size > 0) return;
    clearTimeout(renewTimer);
    renewTimer = undefined;
  }

  async function deliver(batch: LeasedBatch): Promise<void> {
    let outcomes: Outcome[];
    delivering.set(batch, batch);
    scheduleRenewal();
    try {
      outcomes = await courier.deliver(batch.request, controller.signal);
      doneDelivering(batch);
    } catch (error) {
      doneDelivering(batch);
      if (controller.signal.aborted) {
        await queue.abandon(batch).catch(() => undefined);
        return;
      }
      const failure = SmtpError.from(error);
      if (!(error instanceof SmtpError)) {
        logger.warn({ queueId: batch.queueId, nextHop: batch.nextHop, err: error }, 'worker: courier failed');
      }
      outcomes = batch.recipients.map((r) => ({ rcpt: r.rcpt, status: 'deferred' as const, error: failure }));
    }
    // The delivery is over, so its slots are free while the outcomes are recorded (group-committed
    // with others): the next deliveries need not wait for this commit and its fsync. The
    // recipients stay leased to us until the record commits, so nobody takes them meanwhile.
    const { queueId } = batch;
    const recording = queue.complete(batch, outcomes).catch((error: unknown) => {
      // The lease expires and another attempt follows: at least once, never lost.
      logger.error({ queueId, err: error }, 'worker: could not record outcomes');
    });
    recordings.add(recording);
    void recording.finally(() => recordings.delete(recording));
  }

  function dispatch(batch: LeasedBatch): void {
    perHop.set(batch.nextHop, (perHop.get(batch.nextHop) ?? 0) + 1);
    buckets?.take(batch.nextHop);
    const work = deliver(batch).finally(() => {
      const left = (perHop.get(batch.nextHop) ?? 1) - 1;
      if (left > 0) perHop.set(batch.nextHop, left);
      else perHop.delete(batch.nextHop);
      inflight.delete(work);
      wake();
    });
    inflight.add(work);
  }

  /** Leases as much as the limits allow; returns the groups leased and the earliest rate wait. */
  async function fill(): Promise<{ leased: number; waitMs: number }> {
    const free = concurrency - inflight.size;
    // Lease in bunches: one lease transaction per freed slot would cost more than the deliveries.
    if (free <= 0 || (inflight.size > 0 && free < minFree)) return { leased: 0, waitMs: pollMs };
    const exclude: string[] = [];
    let waitMs = pollMs;
    for (const hop of new Set([...perHop.keys()])) if (slotsFor(hop) <= 0) exclude.push(hop);
    if (buckets) {
      // Hops we have paced before may still be out of tokens even with nothing in flight.
      for (const hop of pacedHops) {
        if (!exclude.includes(hop) && buckets.available(hop) <= 0) exclude.push(hop);
        const wait = buckets.waitMs(hop);
        if (wait > 0) waitMs = Math.min(waitMs, wait);
      }
    }
    const batches = await queue.lease({ owner, maxGroups: free, maxRecipients, leaseMs, exclude, slotsFor });
    for (const batch of batches) {
      if (buckets) pacedHops.add(batch.nextHop);
      dispatch(batch);
    }
    return { leased: batches.length, waitMs };
  }

  async function loop(): Promise<void> {
    let lastNotices = 0;
    while (running) {
      let waitMs = pollMs;
      try {
        const filled = await fill();
        waitMs = filled.waitMs;
        if (performance.now() - lastNotices >= pollMs) {
          lastNotices = performance.now();
          await queue.processNotices();
        }
        if (filled.leased > 0 && inflight.size < concurrency) continue;
      } catch (error) {
        logger.error({ err: error }, 'worker: lease failed');
      }
      if (!running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, waitMs));
        poke = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  const onDue = (): void => wake();

  const worker: Worker = {
    owner,
    start() {
      if (running) return;
      running = true;
      controller = new AbortController();
      queue.events.on('due', onDue);
      loopDone = loop();
    },
    async stop() {
      if (!running) return;
      running = false;
      queue.events.off('due', onDue);
      wake();
      await loopDone;
      if (inflight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, stopGraceMs);
        });
        await Promise.race([Promise.allSettled([...inflight]), grace]);
        clearTimeout(timer);
        controller.abort();
        await Promise.allSettled([...inflight]);
      }
      await renewing;
      await Promise.allSettled([...recordings]);
    },
    async runOnce() {
      let requests = 0;
      for (;;) {
        const { leased } = await fill();
        requests += leased;
        if (leased === 0 && inflight.size === 0) {
          // Recording an outcome may queue more (a bounce's DSN): look again once they are in.
          if (recordings.size === 0) break;
          await Promise.allSettled([...recordings]);
          continue;
        }
        if (leased === 0 || inflight.size >= concurrency) await Promise.race([...inflight]);
      }
      await queue.processNotices();
      return requests;
    },
    [Symbol.asyncDispose]() {
      return worker.stop();
    },
  };
  return worker;
}
