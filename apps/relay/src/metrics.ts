// Prometheus metrics of a relaying app (prom-client): messages accepted; recipients delivered,
// deferred and bounced; queue depth by recipient state (read from the queue when scraped, so it
// is right across processes sharing one PostgreSQL queue); delivery attempt latency; SMTP replies
// we sent by code. Fed by the queue's events (one per state change) and the SMTP backend.

import type { Queue } from '@mailyard/queue';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface RelayMetrics {
  readonly registry: Registry;
  /** Counts one SMTP reply we sent. */
  reply(code: number): void;
  close(): void;
}

export function createRelayMetrics(queue: Queue): RelayMetrics {
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
    help: 'SMTP replies sent by the relay, by code',
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
  const listeners = {
    queued: () => accepted.inc(),
    attempt: (e: { queueId: string; nextHop: string }) => {
      started.set(`${e.queueId} ${e.nextHop}`, performance.now());
      if (started.size > 100_000) started.delete(started.keys().next().value as string);
    },
    delivered: (e: { queueId: string; nextHop: string }) => {
      delivered.inc();
      observe(e.queueId, e.nextHop, 'delivered');
    },
    deferred: (e: { queueId: string; nextHop: string }) => {
      deferred.inc();
      observe(e.queueId, e.nextHop, 'deferred');
    },
    bounced: (e: { queueId: string; nextHop: string }) => {
      bounced.inc();
      observe(e.queueId, e.nextHop, 'bounced');
    },
  };
  for (const [event, listener] of Object.entries(listeners))
    queue.events.on(event as 'queued', listener as () => void);
  return {
    registry,
    reply: (code) => replies.inc({ code: String(code) }),
    close() {
      for (const [event, listener] of Object.entries(listeners))
        queue.events.off(event as 'queued', listener as () => void);
    },
  };
}
