// Prometheus metrics of a relaying app (prom-client): messages accepted; recipients delivered,
// deferred and bounced; queue depth by recipient state (read from the queue when scraped, so it
// is right across processes sharing one PostgreSQL queue); delivery attempt latency; SMTP replies
// we sent by code. Fed by the queue's events (one per state change) and the SMTP backend.
// The queue is typed by the little used here (a package imports only @mailyard/smtp, and the
// queue itself stays free of prom-client); a `Queue` of @mailyard/queue fits it.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the metrics read of a delivery queue: its state-change events and its counts. */
export interface MetricsQueue {
  readonly events: {
    on(event: 'queued' | QueueHopEvent, listener: (event: QueueHop) => void): unknown;
    off(event: 'queued' | QueueHopEvent, listener: (event: QueueHop) => void): unknown;
  };
  /** Recipients by state. */
  counts(): Promise<Readonly<Record<string, number>>>;
}

type QueueHopEvent = 'attempt' | 'delivered' | 'deferred' | 'bounced';

interface QueueHop {
  readonly queueId: string;
  readonly nextHop: string;
}

export interface MtaMetrics {
  readonly registry: Registry;
  /** Counts one SMTP reply we sent. */
  reply(code: number): void;
  /** Stops listening to the queue. */
  close(): void;
}

export function createMtaMetrics(queue: MetricsQueue): MtaMetrics {
  const registry = new Registry();
  const accepted = new Counter({
    name: 'mailyard_messages_accepted_total',
    help: 'Messages committed to the queue',
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'mailyard_recipients_delivered_total',
    help: 'Recipients delivered',
    registers: [registry],
  });
  const deferred = new Counter({
    name: 'mailyard_recipients_deferred_total',
    help: 'Delivery attempts deferred (per recipient)',
    registers: [registry],
  });
  const bounced = new Counter({
    name: 'mailyard_recipients_bounced_total',
    help: 'Recipients bounced (5xx or expired)',
    registers: [registry],
  });
  const replies = new Counter({
    name: 'mailyard_smtp_replies_total',
    help: 'SMTP replies sent, by code',
    labelNames: ['code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'mailyard_delivery_attempt_seconds',
    help: 'Time of one delivery attempt to a next hop, by outcome',
    labelNames: ['status'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: 'mailyard_queue_recipients',
    help: 'Recipients in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await queue.counts();
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });

  const started = new Map<string, number>();
  const observe = (queueId: string, nextHop: string, status: string): void => {
    const key = `${queueId} ${nextHop}`;
    const at = started.get(key);
    if (at === undefined) return;
    started.delete(key);
    latency.observe({ status }, (performance.now() - at) / 1000);
  };
  const listeners: Record<'queued' | QueueHopEvent, (e: QueueHop) => void> = {
    queued: () => accepted.inc(),
    attempt: (e) => {
      started.set(`${e.queueId} ${e.nextHop}`, performance.now());
      if (started.size > 100_000) started.delete(started.keys().next().value as string);
    },
    delivered: (e) => {
      delivered.inc();
      observe(e.queueId, e.nextHop, 'delivered');
    },
    deferred: (e) => {
      deferred.inc();
      observe(e.queueId, e.nextHop, 'deferred');
    },
    bounced: (e) => {
      bounced.inc();
      observe(e.queueId, e.nextHop, 'bounced');
    },
  };
  const events = Object.entries(listeners) as ['queued' | QueueHopEvent, (e: QueueHop) => void][];
  for (const [event, listener] of events) queue.events.on(event, listener);
  return {
    registry,
    reply: (code) => replies.inc({ code: String(code) }),
    close() {
      for (const [event, listener] of events) queue.events.off(event, listener);
    },
  };
}
