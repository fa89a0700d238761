// The admin HTTP listener: bearer token on everything but /healthz, Prometheus metrics, the queue
// API (list, show, retry, hold, release, delete) and the injection endpoint.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject, startTestRelay, type TestRelay, testMessage } from './helpers.ts';

describe('admin HTTP', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    // Nothing answers DNS: messages stay in the queue (deferred) for the API to work on.
    relay = await startTestRelay({ dns: { servers: ['127.0.0.1:9'] } });
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
  });

  it('answers /healthz without a token', async () => {
    const response = await fetch(`${relay.relay.adminUrl}/healthz`);
    expect(response.status).toBe(200);
  });

  it('refuses the API without the right bearer token', async () => {
    expect((await fetch(`${relay.relay.adminUrl}/api/queue`)).status).toBe(401);
    const wrong = await fetch(`${relay.relay.adminUrl}/metrics`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
  });

  it('injects a message with its envelope and answers with the queue id once it is queued', async () => {
    const queueId = await inject(relay, testMessage('injected'), 'alice@example.org', [
      'bob@example.net',
      'carol@example.net',
    ]);
    const shown = (await (await relay.admin(`/api/queue/${queueId}`)).json()) as {
      recipients: { rcpt: string }[];
      envelope: { mailFrom: unknown };
    };
    expect(shown.recipients.map((r: { rcpt: string }) => r.rcpt)).toEqual([
      'bob@example.net',
      'carol@example.net',
    ]);
    expect(shown.envelope.mailFrom).toEqual({ localPart: 'alice', domain: 'example.org' });
  });

  it('refuses an injection without recipients with 400', async () => {
    const response = await relay.admin('/api/messages?from=alice@example.org', {
      method: 'POST',
      body: testMessage('x'),
    });
    expect(response.status).toBe(400);
  });

  it('lists, holds, releases, retries and deletes through the queue API', async () => {
    const queueId = await inject(relay, testMessage('operate'), 'alice@example.org', ['dave@example.net']);
    const list = (await (await relay.admin('/api/queue?limit=1000')).json()) as { queueId: string }[];
    expect(list.map((m) => m.queueId)).toContain(queueId);
    expect(await (await relay.admin(`/api/queue/${queueId}/hold`, { method: 'POST' })).json()).toMatchObject({
      count: 1,
    });
    expect((await relay.relay.queue.show(queueId))?.recipients[0]?.state).toBe('held');
    expect(
      await (await relay.admin(`/api/queue/${queueId}/release`, { method: 'POST' })).json(),
    ).toMatchObject({ count: 1 });
    expect((await relay.relay.queue.show(queueId))?.recipients[0]?.state).not.toBe('held');
    expect((await relay.admin(`/api/queue/${queueId}/retry`, { method: 'POST' })).status).toBe(200);
    expect((await relay.admin(`/api/queue/${queueId}`, { method: 'DELETE' })).status).toBe(200);
    expect((await relay.admin(`/api/queue/${queueId}`)).status).toBe(404);
  });

  it('serves Prometheus metrics: accepted messages, queue depth by state, replies by code', async () => {
    await inject(relay, testMessage('counted'), 'alice@example.org', ['erin@example.net']);
    const response = await relay.admin('/metrics');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^mailyard_messages_accepted_total [1-9]\d*$/m);
    expect(text).toMatch(/^mailyard_queue_recipients\{state="(pending|deferred|delivering)"\} [1-9]\d*$/m);
    expect(text).toMatch(/^# TYPE mailyard_delivery_attempt_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE mailyard_smtp_replies_total counter$/m);
  });
});
