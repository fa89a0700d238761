import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createMtaMetrics, type MetricsQueue } from './metrics.ts';

/** The little of a queue the metrics read: its events and its counts (structural, see metrics.ts). */
function queueLike(counts: Record<string, number>) {
  const events = new EventEmitter();
  const queue: MetricsQueue = { events, counts: async () => counts };
  return { queue, events };
}

describe('createMtaMetrics', () => {
  it("counts the queue's state changes, SMTP replies, and reads queue depth when scraped", async () => {
    const { queue, events } = queueLike({ pending: 2, deferred: 1 });
    const metrics = createMtaMetrics(queue);
    events.emit('queued', { queueId: 'q1' });
    events.emit('attempt', { queueId: 'q1', nextHop: 'example.net' });
    events.emit('delivered', { queueId: 'q1', nextHop: 'example.net' });
    events.emit('deferred', { queueId: 'q2', nextHop: 'example.org' });
    metrics.reply(250);
    metrics.reply(250);
    metrics.reply(550);
    const text = await metrics.registry.metrics();
    expect(text).toContain('mailyard_messages_accepted_total 1');
    expect(text).toContain('mailyard_recipients_delivered_total 1');
    expect(text).toContain('mailyard_recipients_deferred_total 1');
    expect(text).toContain('mailyard_recipients_bounced_total 0');
    expect(text).toContain('mailyard_smtp_replies_total{code="250"} 2');
    expect(text).toContain('mailyard_smtp_replies_total{code="550"} 1');
    expect(text).toContain('mailyard_queue_recipients{state="pending"} 2');
    // Latency is observed only for an attempt that was seen starting.
    expect(text).toContain('mailyard_delivery_attempt_seconds_count{status="delivered"} 1');
    expect(text).not.toContain('mailyard_delivery_attempt_seconds_count{status="deferred"}');
    metrics.close();
  });

  it('stops listening to the queue when closed', () => {
    const { queue, events } = queueLike({});
    const metrics = createMtaMetrics(queue);
    expect(events.listenerCount('delivered')).toBe(1);
    metrics.close();
    for (const event of ['queued', 'attempt', 'delivered', 'deferred', 'bounced'])
      expect(events.listenerCount(event)).toBe(0);
  });
});
