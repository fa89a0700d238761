import { type Courier, type DeliveryRequest, formatAddress, parseAddress } from '@mailyard/smtp';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import type { QueueLogger } from './events.ts';
import { openQueue } from './queue.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { createWorker } from './worker.ts';

const envelope = (...rcpts: string[]) => ({
  mailFrom: parseAddress('a@example.org'),
  rcptTo: rcpts.map((r) => ({ address: parseAddress(r) })),
  params: {},
});

function recordingLogger() {
  const warnings: { fields: Record<string, unknown>; message: string | undefined }[] = [];
  const logger: QueueLogger = {
    info() {},
    error() {},
    warn: (fields, message) => void warnings.push({ fields: fields as Record<string, unknown>, message }),
  };
  return { logger, warnings };
}

const deliverAll = (request: DeliveryRequest) =>
  request.envelope.rcptTo.map((r) => ({
    rcpt: formatAddress(r.address),
    status: 'delivered' as const,
    reply: '250 2.0.0 Ok',
  }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('goes on delivering when its leases cannot be renewed, and logs each failure', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db') });
  // The store refuses renewals (a database gone away, say); everything else works.
  const refusing = {
    ...store,
    renew: () => Promise.reject(new Error('renewal refused')),
  };
  await using queue = await openQueue({ store: refusing });
  await queue.enqueue({ envelope: envelope('b@example.com'), message: 'x' });
  const { logger, warnings } = recordingLogger();
  const courier: Courier = {
    async deliver(request) {
      await sleep(150);
      return deliverAll(request);
    },
  };
  const worker = createWorker({ queue, courier, logger, leaseMs: 10_000, renewMs: 20 });
  expect(await worker.runOnce()).toBe(1);
  expect((await queue.counts()).delivered).toBe(1);
  const failures = warnings.filter((w) => w.message === 'worker: could not renew leases');
  expect(failures.length).toBeGreaterThanOrEqual(2);
  expect(failures[0]?.fields.err).toMatchObject({ message: 'renewal refused' });
});

it('logs, once, the recipients whose lease was lost during the delivery, and renews the rest', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db') });
  let now = Date.UTC(2026, 10, 1);
  await using queue = await openQueue({ store, clock: { now: () => now } });
  const { queueId } = await queue.enqueue({
    envelope: envelope('b@example.com', 'c@example.com'),
    message: 'x',
  });
  const { logger, warnings } = recordingLogger();
  const lost = () => warnings.filter((w) => w.message?.startsWith('worker: lease lost'));
  let thirdTook: string[] | undefined;
  const courier: Courier = {
    async deliver(request) {
      // An operator holds b while it is being delivered: its lease is gone.
      await queue.hold(queueId, 'b@example.com');
      for (let i = 0; i < 100 && lost().length === 0; i++) await sleep(10);
      // The delivery takes 100 s (the clock jumps), more than its lease: c must stay ours.
      for (let i = 0; i < 2; i++) {
        now += 50_000;
        await sleep(60);
      }
      const third = await queue.lease({ owner: 'third', maxGroups: 1, leaseMs: 60_000 });
      thirdTook = third.flatMap((b) => b.recipients.map((r) => r.rcpt));
      return deliverAll(request);
    },
  };
  await createWorker({ queue, courier, logger, leaseMs: 60_000, renewMs: 10 }).runOnce();
  expect(lost().map((w) => w.fields)).toEqual([
    { queueId, nextHop: 'example.com', rcpts: ['b@example.com'] },
  ]);
  expect(thirdTook).toEqual([]);
  // c's outcome counted, as its lease held; b's did not, as it is held.
  expect((await queue.show(queueId))?.recipients.map((r) => [r.rcpt, r.state])).toEqual([
    ['b@example.com', 'held'],
    ['c@example.com', 'delivered'],
  ]);
});
