// The one contract test suite: every behaviour of the queue, run against each store.

import { Readable } from 'node:stream';
import { type DeliveryRequest, SmtpError } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import {
  type BounceNotice,
  createWorker,
  type DeferredEvent,
  type ExpiredEvent,
  openQueue,
  type Queue,
  type QueueOptions,
} from '../src/index.ts';
import {
  delivered,
  envelope,
  manualClock,
  recordingCourier,
  type StoreFactory,
  sha256,
  sha256Of,
} from './helpers.ts';

const MINUTE = 60_000;

export function queueContract(openStore: StoreFactory): void {
  async function setup(options: Partial<QueueOptions> = {}) {
    const store = await openStore();
    const clock = manualClock();
    const queue = await openQueue({ store, clock, retry: { jitter: 0 }, ...options });
    return {
      store,
      clock,
      queue,
      async [Symbol.asyncDispose]() {
        await queue.close();
        await store[Symbol.asyncDispose]();
      },
    };
  }

  describe('enqueue', () => {
    it('stores the message byte-identical and returns its queue id', async () => {
      await using t = await setup();
      const body = 'Subject: hi\r\n\r\nhello\r\n';
      const queued = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@example.com']),
        message: body,
      });
      expect(queued.queueId).toMatch(/^[0-9A-F]{24}$/);
      expect(queued.sha256).toBe(sha256Of(body));
      expect(await sha256(t.queue.openMessage(queued.queueId))).toBe(sha256Of(body));
    });

    it('streams a message larger than one chunk into the store and back unchanged', async () => {
      await using t = await setup();
      const piece = Buffer.alloc(64 * 1024, 'x');
      const pieces = Array.from({ length: 50 }, (_, i) => Buffer.concat([Buffer.from(`${i}\r\n`), piece]));
      const queued = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@example.com']),
        message: Readable.from(pieces),
      });
      expect(queued.size).toBe(pieces.reduce((n, p) => n + p.length, 0));
      expect(await sha256(t.queue.openMessage(queued.queueId))).toBe(sha256Of(Buffer.concat(pieces)));
    });

    it('stores plain Uint8Array pieces (not Buffers), small and large, byte-identical', async () => {
      await using t = await setup();
      // A view into the middle of a larger array: what is stored is the view, not its neighbours.
      const backing = new Uint8Array(200 * 1024).map((_, i) => i % 251);
      for (const size of [100, 100 * 1024]) {
        const view = backing.subarray(7, 7 + size);
        const whole = await t.queue.enqueue({
          envelope: envelope('a@example.org', ['b@example.com']),
          message: view,
        });
        async function* split(): AsyncGenerator<Uint8Array> {
          yield view.subarray(0, 3);
          yield view.subarray(3);
        }
        const pieces = await t.queue.enqueue({
          envelope: envelope('a@example.org', ['b@example.com']),
          message: split(),
        });
        for (const { queueId, sha256: sum } of [whole, pieces]) {
          expect(sum).toBe(sha256Of(Buffer.from(view)));
          expect(await sha256(t.queue.openMessage(queueId))).toBe(sum);
        }
      }
    });

    it('gives each recipient the next hop of its domain by default', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@two.example']),
        message: 'x',
      });
      const shown = await t.queue.show(queueId);
      expect(shown?.recipients.map((r) => [r.rcpt, r.nextHop, r.state])).toEqual([
        ['b@one.example', 'one.example', 'pending'],
        ['c@two.example', 'two.example', 'pending'],
      ]);
    });

    it('takes the next hop from meta, as a name or per recipient, and keeps the other meta', async () => {
      await using t = await setup({ nextHop: () => 'default-hop' });
      const byName = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
        meta: { nextHop: 'smarthost', source: 'relay' },
      });
      const byFunction = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@two.example']),
        message: 'x',
        meta: { nextHop: (r) => `mx.${r.address.domain}` },
      });
      const byOption = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      const first = await t.queue.show(byName.queueId);
      expect(first?.recipients[0]?.nextHop).toBe('smarthost');
      expect(first?.meta).toEqual({ source: 'relay' });
      expect((await t.queue.show(byFunction.queueId))?.recipients.map((r) => r.nextHop)).toEqual([
        'mx.one.example',
        'mx.two.example',
      ]);
      expect((await t.queue.show(byOption.queueId))?.recipients[0]?.nextHop).toBe('default-hop');
    });

    it('commits concurrent enqueues together in fewer transactions than messages', async () => {
      const store = await openStore();
      const batches: number[] = [];
      const counted = {
        ...store,
        commit: (batch: Parameters<typeof store.commit>[0]) => {
          batches.push(batch.length);
          return store.commit(batch);
        },
      };
      try {
        const queue = await openQueue({ store: counted });
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            queue.enqueue({ envelope: envelope('a@example.org', [`r${i}@example.com`]), message: `m${i}` }),
          ),
        );
        expect(new Set(results.map((r) => r.queueId)).size).toBe(40);
        expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
        expect(batches.length).toBeLessThan(40);
        expect((await queue.counts()).pending).toBe(40);
        await queue.close();
      } finally {
        await store[Symbol.asyncDispose]();
      }
    });

    it('emits queued with the queue id and recipient count', async () => {
      await using t = await setup();
      const seen: unknown[] = [];
      t.queue.events.on('queued', (e) => seen.push(e));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope(null, ['b@x.example', 'c@x.example']),
        message: 'x',
      });
      expect(seen).toEqual([{ queueId, mailFrom: null, recipients: 2, size: 1 }]);
    });
  });

  describe('bad input', () => {
    it('rejects an enqueue without recipients with 554 5.5.1', async () => {
      await using t = await setup();
      await expect(
        t.queue.enqueue({ envelope: envelope('a@example.org', []), message: 'x' }),
      ).rejects.toMatchObject({
        code: 554,
        enhanced: '5.5.1',
      });
      expect((await t.queue.list()).length).toBe(0);
    });

    it('rejects an over-size message with 552 5.3.4 and leaves no trace of it', async () => {
      await using t = await setup({ maxMessageSize: 1024 * 1024 });
      const big = Readable.from(Array.from({ length: 40 }, () => Buffer.alloc(64 * 1024, 'y')));
      const error = await t.queue
        .enqueue({ envelope: envelope('a@example.org', ['b@example.com']), message: big })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SmtpError);
      expect(error).toMatchObject({ code: 552, enhanced: '5.3.4' });
      expect(await t.queue.list()).toEqual([]);
      expect(await t.store.cleanOrphans(Number.MAX_SAFE_INTEGER)).toEqual({
        chunks: 0,
        bodies: 0,
        segmentBytes: 0,
      });
    });

    it('rejects an enqueue on a closed queue with 451 4.3.2', async () => {
      await using t = await setup();
      await t.queue.close();
      await expect(
        t.queue.enqueue({ envelope: envelope('a@example.org', ['b@example.com']), message: 'x' }),
      ).rejects.toMatchObject({ code: 451, enhanced: '4.3.2' });
    });

    it('rejects an enqueue on a closed store with 451 4.3.2', async () => {
      const store = await openStore();
      const queue = await openQueue({ store });
      await store.close();
      await expect(
        queue.enqueue({ envelope: envelope('a@example.org', ['b@example.com']), message: 'x' }),
      ).rejects.toMatchObject({ code: 451, enhanced: '4.3.2' });
      await store[Symbol.asyncDispose]().catch(() => undefined);
    });

    it('fails with 451 4.3.0 when the message stream breaks, and keeps nothing of it', async () => {
      await using t = await setup();
      const ok = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@example.com']),
        message: 'kept',
      });
      async function* broken() {
        yield Buffer.alloc(700 * 1024, 'z');
        throw new Error('connection reset');
      }
      await expect(
        t.queue.enqueue({ envelope: envelope('a@example.org', ['b@example.com']), message: broken() }),
      ).rejects.toMatchObject({ code: 451, enhanced: '4.3.0' });
      expect((await t.queue.list()).map((m) => m.queueId)).toEqual([ok.queueId]);
      expect(await t.store.cleanOrphans(Number.MAX_SAFE_INTEGER)).toEqual({
        chunks: 0,
        bodies: 0,
        segmentBytes: 0,
      });
    });
  });

  describe('leases', () => {
    it('leases due recipients grouped by message and next hop', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@two.example', 'd@one.example']),
        message: 'x',
      });
      const batches = await t.queue.lease({ owner: 'w1', maxGroups: 10, leaseMs: MINUTE });
      expect(
        batches.map((b) => [b.queueId, b.nextHop, b.request.envelope.rcptTo.map((r) => r.address.localPart)]),
      ).toEqual([
        [queueId, 'one.example', ['b', 'd']],
        [queueId, 'two.example', ['c']],
      ]);
      expect((await t.queue.counts()).delivering).toBe(3);
    });

    it('tells the courier the stored size, so nothing reads the message to count it', async () => {
      await using t = await setup();
      await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x'.repeat(70_000),
      });
      const [batch] = await t.queue.lease({ owner: 'w1', maxGroups: 10, leaseMs: MINUTE });
      expect(batch?.request.size).toBe(70_000);
    });

    it('gives a leased recipient to no one else until the lease expires', async () => {
      await using t = await setup();
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      expect(await t.queue.lease({ owner: 'w1', maxGroups: 10, leaseMs: MINUTE })).toHaveLength(1);
      expect(await t.queue.lease({ owner: 'w2', maxGroups: 10, leaseMs: MINUTE })).toHaveLength(0);
      t.clock.advance(MINUTE);
      const retaken = await t.queue.lease({ owner: 'w2', maxGroups: 10, leaseMs: MINUTE });
      expect(retaken.map((b) => b.owner)).toEqual(['w2']);
    });

    it('ignores the outcome of a lease that expired and was taken over', async () => {
      await using t = await setup();
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      const [stale] = await t.queue.lease({ owner: 'w1', maxGroups: 1, leaseMs: MINUTE });
      t.clock.advance(MINUTE);
      const [fresh] = await t.queue.lease({ owner: 'w2', maxGroups: 1, leaseMs: MINUTE });
      await t.queue.complete(stale!, [delivered('b@one.example')]);
      expect((await t.queue.counts()).delivering).toBe(1);
      await t.queue.complete(fresh!, [delivered('b@one.example')]);
      expect((await t.queue.counts()).delivered).toBe(1);
    });

    it('leaves excluded next hops and respects per-hop slots', async () => {
      await using t = await setup();
      for (let i = 0; i < 3; i++) {
        await t.queue.enqueue({
          envelope: envelope('a@example.org', [`b${i}@one.example`, `c${i}@two.example`]),
          message: 'x',
        });
      }
      const batches = await t.queue.lease({
        owner: 'w1',
        maxGroups: 10,
        leaseMs: MINUTE,
        exclude: ['two.example'],
        slotsFor: () => 2,
      });
      expect(batches.map((b) => b.nextHop)).toEqual(['one.example', 'one.example']);
    });

    it('renews a lease: no one else takes its recipients until the renewed lease runs out', async () => {
      await using t = await setup();
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      const [batch] = await t.queue.lease({ owner: 'w1', maxGroups: 1, leaseMs: MINUTE });
      t.clock.advance(MINUTE / 2);
      const [renewed] = await t.queue.renew([batch!], MINUTE);
      expect(renewed).toMatchObject({ batch, leaseUntil: t.clock.now() + MINUTE, lost: [] });
      // Past the lease as first taken: without the renewal w2 would take it here.
      t.clock.advance(MINUTE - 1);
      expect(await t.queue.lease({ owner: 'w2', maxGroups: 1, leaseMs: MINUTE })).toEqual([]);
      t.clock.advance(1);
      expect((await t.queue.lease({ owner: 'w2', maxGroups: 1, leaseMs: MINUTE }))[0]?.owner).toBe('w2');
    });

    it('renews a lease that ran out while nobody took its recipients', async () => {
      await using t = await setup();
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      const [batch] = await t.queue.lease({ owner: 'w1', maxGroups: 1, leaseMs: MINUTE });
      t.clock.advance(2 * MINUTE);
      expect((await t.queue.renew([batch!], MINUTE))[0]?.lost).toEqual([]);
      expect(await t.queue.lease({ owner: 'w2', maxGroups: 1, leaseMs: MINUTE })).toEqual([]);
      await t.queue.complete(batch!, [delivered('b@one.example')]);
      expect((await t.queue.counts()).delivered).toBe(1);
    });

    it('reports the recipients whose lease was lost, and leaves their new owner alone', async () => {
      await using t = await setup();
      await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@one.example']),
        message: 'x',
      });
      const [stale] = await t.queue.lease({ owner: 'w1', maxGroups: 1, leaseMs: MINUTE });
      t.clock.advance(MINUTE);
      const [fresh] = await t.queue.lease({ owner: 'w2', maxGroups: 1, maxRecipients: 1, leaseMs: MINUTE });
      expect(fresh?.recipients.map((r) => r.rcpt)).toEqual(['b@one.example']);
      const [renewal] = await t.queue.renew([stale!], 10 * MINUTE);
      // c was free for the taking, but nobody took it: it stays w1's.
      expect(renewal?.lost.map((r) => r.rcpt)).toEqual(['b@one.example']);
      // w2's lease runs out when it would have: w1's renewal did not extend it.
      t.clock.advance(MINUTE);
      const retaken = await t.queue.lease({ owner: 'w3', maxGroups: 10, leaseMs: MINUTE });
      expect(retaken.flatMap((b) => b.recipients.map((r) => r.rcpt))).toEqual(['b@one.example']);
    });

    it('renews no recipient that is recorded, given back or held, and changes none of them', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', [
          'b@one.example',
          'c@two.example',
          'd@three.example',
          'e@four.example',
        ]),
        message: 'x',
      });
      const batches = await t.queue.lease({ owner: 'w1', maxGroups: 10, leaseMs: MINUTE });
      const [one, two, three, four] = ['one', 'two', 'three', 'four'].map((hop) =>
        batches.find((b) => b.nextHop === `${hop}.example`),
      );
      await t.queue.complete(one!, [delivered('b@one.example')]);
      await t.queue.abandon(two!);
      await t.queue.hold(queueId, 'd@three.example');
      const before = (await t.queue.show(queueId))?.recipients;
      const renewed = await t.queue.renew([one!, two!, three!, four!], 10 * MINUTE);
      expect(renewed.map((r) => r.lost.map((l) => l.rcpt))).toEqual([
        ['b@one.example'],
        ['c@two.example'],
        ['d@three.example'],
        [],
      ]);
      const after = (await t.queue.show(queueId))?.recipients;
      expect(after?.slice(0, 3)).toEqual(before?.slice(0, 3));
      expect(after?.[3]).toEqual({ ...before?.[3], nextAttemptAt: new Date(t.clock.now() + 10 * MINUTE) });
    });

    it('gives back an abandoned lease without counting an attempt', async () => {
      await using t = await setup();
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      const [batch] = await t.queue.lease({ owner: 'w1', maxGroups: 1, leaseMs: MINUTE });
      await t.queue.abandon(batch!);
      const [again] = await t.queue.lease({ owner: 'w2', maxGroups: 1, leaseMs: MINUTE });
      expect(again?.recipients[0]?.attempts).toBe(0);
    });
  });

  describe('delivery outcomes', () => {
    it('records delivered recipients, their replies, and removes the body once all are final', async () => {
      await using t = await setup();
      const courier = recordingCourier((rcpt) => delivered(rcpt));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@two.example']),
        message: 'Subject: x\r\n\r\nbody\r\n',
      });
      const seen: string[] = [];
      t.queue.events.on('delivered', (e) => seen.push(e.rcpt));
      expect(await createWorker({ queue: t.queue, courier }).runOnce()).toBe(2);
      expect(courier.bodies).toEqual([
        sha256Of('Subject: x\r\n\r\nbody\r\n'),
        sha256Of('Subject: x\r\n\r\nbody\r\n'),
      ]);
      expect(seen.sort()).toEqual(['b@one.example', 'c@two.example']);
      const shown = await t.queue.show(queueId);
      expect(shown?.recipients.map((r) => [r.state, r.attempts, r.lastReply])).toEqual([
        ['delivered', 1, '250 2.0.0 OK'],
        ['delivered', 1, '250 2.0.0 OK'],
      ]);
      expect(shown?.attempts.map((a) => [a.rcpt, a.status, a.reply]).sort()).toEqual([
        ['b@one.example', 'delivered', '250 2.0.0 OK'],
        ['c@two.example', 'delivered', '250 2.0.0 OK'],
      ]);
      expect(shown?.bodyAvailable).toBe(false);
      await expect(sha256(t.queue.openMessage(queueId))).rejects.toMatchObject({ code: 451 });
    });

    it('defers a 4xx on the retry schedule and delivers when it is due again', async () => {
      await using t = await setup({ retry: { schedule: [5 * MINUTE, 60 * MINUTE], jitter: 0 } });
      let answer: 'defer' | 'deliver' = 'defer';
      const courier = recordingCourier((rcpt) =>
        answer === 'defer'
          ? { rcpt, status: 'deferred', error: new SmtpError(421, '4.7.0', 'Try again later') }
          : delivered(rcpt),
      );
      const deferred: DeferredEvent[] = [];
      t.queue.events.on('deferred', (e) => deferred.push(e));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      const worker = createWorker({ queue: t.queue, courier });
      await worker.runOnce();
      const start = t.clock.now();
      expect(deferred[0]?.nextAttemptAt.getTime()).toBe(start + 5 * MINUTE);
      expect(deferred[0]?.error.code).toBe(421);
      t.clock.advance(5 * MINUTE - 1);
      expect(await worker.runOnce()).toBe(0);
      t.clock.advance(1);
      await worker.runOnce();
      expect(deferred[1]?.nextAttemptAt.getTime()).toBe(t.clock.now() + 60 * MINUTE);
      t.clock.advance(60 * MINUTE);
      answer = 'deliver';
      await worker.runOnce();
      const shown = await t.queue.show(queueId);
      expect(shown?.recipients[0]).toMatchObject({ state: 'delivered', attempts: 3 });
      expect(shown?.attempts.map((a) => a.reply)).toEqual([
        '421 4.7.0 Try again later',
        '421 4.7.0 Try again later',
        '250 2.0.0 OK',
      ]);
    });

    it('spreads retries with jitter within the configured fraction', async () => {
      await using t = await setup({ retry: { schedule: [10 * MINUTE], jitter: 0.5, random: () => 0.99 } });
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'deferred',
        error: new SmtpError(450, '4.2.0', 'busy'),
      }));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      await createWorker({ queue: t.queue, courier }).runOnce();
      const next = (await t.queue.show(queueId))?.recipients[0]?.nextAttemptAt?.getTime() ?? 0;
      expect(next - t.clock.now()).toBeGreaterThan(14 * MINUTE);
      expect(next - t.clock.now()).toBeLessThanOrEqual(15 * MINUTE);
    });

    it('defers with 451 4.3.0 when the courier throws something unknown', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      await createWorker({
        queue: t.queue,
        courier: {
          deliver: async () => {
            throw new Error('socket hang up');
          },
        },
      }).runOnce();
      const shown = await t.queue.show(queueId);
      expect(shown?.recipients[0]).toMatchObject({ state: 'deferred', attempts: 1 });
      expect(shown?.recipients[0]?.lastReply).toMatch(/^451 4\.3\.0/);
    });

    it('defers a recipient the courier gave no outcome for', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example', 'c@one.example']),
        message: 'x',
      });
      await createWorker({
        queue: t.queue,
        courier: { deliver: async () => [delivered('b@one.example')] },
      }).runOnce();
      expect((await t.queue.show(queueId))?.recipients.map((r) => r.state)).toEqual([
        'delivered',
        'deferred',
      ]);
    });

    it('bounces an explicit 5xx at once and hands the app a notice with the reply', async () => {
      const notices: BounceNotice[] = [];
      const bodies: string[] = [];
      await using t = await setup({
        onBounce: async (notice) => {
          notices.push(notice);
          bodies.push(await sha256(notice.openMessage()));
        },
      });
      const courier = recordingCourier((rcpt) =>
        rcpt.startsWith('gone')
          ? { rcpt, status: 'bounced', error: new SmtpError(550, '5.1.1', 'No such user') }
          : delivered(rcpt),
      );
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['gone@one.example', 'ok@one.example']),
        message: 'original',
      });
      await createWorker({ queue: t.queue, courier }).runOnce();
      expect(notices).toHaveLength(1);
      expect(notices[0]?.queueId).toBe(queueId);
      expect(notices[0]?.recipients.map((r) => [r.rcpt, r.reason, r.error.code, r.error.enhanced])).toEqual([
        ['gone@one.example', 'rejected', 550, '5.1.1'],
      ]);
      expect(bodies).toEqual([sha256Of('original')]);
      expect((await t.queue.show(queueId))?.bodyAvailable).toBe(false);
    });

    it('keeps the body and retries the notice when the bounce hook fails', async () => {
      let fail = true;
      let calls = 0;
      await using t = await setup({
        noticeRetryMs: MINUTE,
        onBounce: async () => {
          calls++;
          if (fail) throw new Error('could not enqueue DSN');
        },
      });
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'bounced',
        error: new SmtpError(550, '5.1.1', 'No'),
      }));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      await createWorker({ queue: t.queue, courier }).runOnce();
      expect(calls).toBe(1);
      expect((await t.queue.show(queueId))?.bodyAvailable).toBe(true);
      fail = false;
      expect(await t.queue.processNotices()).toBe(0);
      t.clock.advance(MINUTE);
      expect(await t.queue.processNotices()).toBe(1);
      expect((await t.queue.show(queueId))?.bodyAvailable).toBe(false);
    });

    it('treats a "bounced" outcome with a 4xx error as a deferral', async () => {
      await using t = await setup();
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'bounced',
        error: new SmtpError(451, '4.4.1', 'x'),
      }));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      await createWorker({ queue: t.queue, courier }).runOnce();
      expect((await t.queue.show(queueId))?.recipients[0]?.state).toBe('deferred');
    });

    it('never sends a bounce notice for the null sender or NOTIFY=NEVER', async () => {
      const notices: BounceNotice[] = [];
      await using t = await setup({ onBounce: (n) => void notices.push(n) });
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'bounced',
        error: new SmtpError(550, '5.1.1', 'No'),
      }));
      const a = await t.queue.enqueue({ envelope: envelope(null, ['b@one.example']), message: 'x' });
      const b = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['c@one.example'], 'NEVER'),
        message: 'x',
      });
      await createWorker({ queue: t.queue, courier }).runOnce();
      expect(notices).toEqual([]);
      expect((await t.queue.show(a.queueId))?.recipients[0]?.state).toBe('bounced');
      expect((await t.queue.show(b.queueId))?.bodyAvailable).toBe(false);
    });

    it('bounces a recipient still deferred when the queue lifetime has run out', async () => {
      const notices: BounceNotice[] = [];
      await using t = await setup({
        retry: { schedule: [MINUTE * 60], lifetimeMs: 3 * 60 * MINUTE, jitter: 0 },
        onBounce: (n) => void notices.push(n),
      });
      const expired: ExpiredEvent[] = [];
      t.queue.events.on('expired', (e) => expired.push(e));
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'deferred',
        error: new SmtpError(451, '4.4.1', 'No answer'),
      }));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      const worker = createWorker({ queue: t.queue, courier });
      for (let i = 0; i < 3; i++) {
        await worker.runOnce();
        t.clock.advance(60 * MINUTE);
      }
      expect(expired).toEqual([]);
      await worker.runOnce();
      expect(expired.map((e) => [e.rcpt, e.error.code, e.error.enhanced])).toEqual([
        ['b@one.example', 550, '5.4.7'],
      ]);
      expect(notices[0]?.recipients[0]?.reason).toBe('expired');
      expect((await t.queue.show(queueId))?.recipients[0]).toMatchObject({ state: 'bounced', attempts: 4 });
    });
  });

  describe('operations', () => {
    async function three(t: Awaited<ReturnType<typeof setup>>) {
      const a = await t.queue.enqueue({
        envelope: envelope('alice@example.org', ['x@one.example']),
        message: 'a',
      });
      t.clock.advance(10 * MINUTE);
      const b = await t.queue.enqueue({
        envelope: envelope('bob@example.org', ['y@two.example']),
        message: 'b',
      });
      t.clock.advance(10 * MINUTE);
      const c = await t.queue.enqueue({
        envelope: envelope(null, ['z@two.example', 'x@one.example']),
        message: 'c',
      });
      return [a.queueId, b.queueId, c.queueId] as const;
    }

    it('lists messages filtered by next hop, sender, recipient, age and state', async () => {
      await using t = await setup();
      const [a, b, c] = await three(t);
      const ids = async (filter: Parameters<typeof t.queue.list>[0]) =>
        (await t.queue.list(filter)).map((m) => m.queueId);
      expect(await ids({})).toEqual([a, b, c]);
      expect(await ids({ nextHop: 'two.example' })).toEqual([b, c]);
      expect(await ids({ mailFrom: 'Bob@example.org' })).toEqual([b]);
      expect(await ids({ mailFrom: null })).toEqual([c]);
      expect(await ids({ rcpt: 'x@one.example' })).toEqual([a, c]);
      expect(await ids({ olderThanMs: 10 * MINUTE })).toEqual([a, b]);
      expect(await ids({ newerThanMs: 15 * MINUTE })).toEqual([b, c]);
      await t.queue.hold(b);
      expect(await ids({ state: 'held' })).toEqual([b]);
      expect(await ids({ state: ['pending'], limit: 1 })).toEqual([a]);
    });

    it('holds a message so that no worker leases it, and releases it again', async () => {
      await using t = await setup();
      const [a] = await three(t);
      const held: string[] = [];
      t.queue.events.on('held', (e) => held.push(e.queueId));
      expect(await t.queue.hold(a)).toBe(1);
      expect(held).toEqual([a]);
      const leased = await t.queue.lease({ owner: 'w', maxGroups: 10, leaseMs: MINUTE });
      expect(leased.map((l) => l.queueId)).not.toContain(a);
      expect(await t.queue.release(a)).toBe(1);
      const again = await t.queue.lease({ owner: 'w', maxGroups: 10, leaseMs: MINUTE });
      expect(again.map((l) => l.queueId)).toEqual([a]);
    });

    it('commits recipients held at enqueue that no lease takes until released', async () => {
      await using t = await setup();
      const held: { queueId: string; rcpts: readonly string[]; reason?: string | undefined }[] = [];
      t.queue.events.on('held', (e) => held.push(e));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['kept@one.example', 'Free@one.example']),
        message: 'x',
        hold: ['KEPT@one.example'],
        holdReason: 'rule: review',
      });
      expect(held).toEqual([{ queueId, rcpts: ['kept@one.example'], reason: 'rule: review' }]);
      const shown = await t.queue.show(queueId);
      expect(shown?.recipients.map((r) => [r.rcpt, r.state, r.lastReply])).toEqual([
        ['kept@one.example', 'held', 'rule: review'],
        ['Free@one.example', 'pending', null],
      ]);
      const first = await t.queue.lease({ owner: 'w', maxGroups: 10, leaseMs: MINUTE });
      expect(first.flatMap((b) => b.recipients.map((r) => r.rcpt))).toEqual(['Free@one.example']);
      await t.queue.complete(first[0] ?? expect.fail('no lease'), [delivered('Free@one.example')]);
      t.clock.advance(10 * MINUTE);
      expect(await t.queue.lease({ owner: 'w', maxGroups: 10, leaseMs: MINUTE })).toEqual([]);
      expect(await t.queue.release(queueId)).toBe(1);
      const again = await t.queue.lease({ owner: 'w', maxGroups: 10, leaseMs: MINUTE });
      expect(again.flatMap((b) => b.recipients.map((r) => r.rcpt))).toEqual(['kept@one.example']);
    });

    it('retries a deferred recipient now', async () => {
      await using t = await setup();
      const courier = recordingCourier((rcpt) => ({
        rcpt,
        status: 'deferred',
        error: new SmtpError(451, '4.4.1', 'x'),
      }));
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      const worker = createWorker({ queue: t.queue, courier });
      await worker.runOnce();
      expect(await worker.runOnce()).toBe(0);
      expect(await t.queue.retry(queueId)).toBe(1);
      expect(await worker.runOnce()).toBe(1);
      expect((await t.queue.show(queueId))?.recipients[0]).toMatchObject({ state: 'deferred', attempts: 2 });
    });

    it('deletes a message with its recipients, attempts and body', async () => {
      await using t = await setup();
      const [a, b] = await three(t);
      const deleted: string[] = [];
      t.queue.events.on('deleted', (e) => deleted.push(e.queueId));
      expect(await t.queue.delete(a)).toBe(true);
      expect(await t.queue.delete(a)).toBe(false);
      expect(deleted).toEqual([a]);
      expect(await t.queue.show(a)).toBeUndefined();
      expect((await t.queue.list()).map((m) => m.queueId)[0]).toBe(b);
    });

    it('bounces a message now, with a notice to its sender', async () => {
      const notices: BounceNotice[] = [];
      await using t = await setup({ onBounce: (n) => void notices.push(n) });
      const [a, , c] = await three(t);
      expect(await t.queue.bounce(a)).toBe(1);
      expect(await t.queue.bounce(c, 'z@two.example')).toBe(1);
      expect(
        notices.map((n) => [n.queueId, n.recipients.map((r) => [r.rcpt, r.reason, r.error.code])]),
      ).toEqual([[a, [['x@one.example', 'operator', 550]]]]);
      expect((await t.queue.show(c))?.recipients.map((r) => r.state)).toEqual(['bounced', 'pending']);
    });
  });

  describe('housekeeping', () => {
    it('removes chunks staged by an enqueue that never committed when the queue opens', async () => {
      const store = await openStore();
      try {
        await store.stageChunk('ORPHAN', 0, [Buffer.from('half a message')], 0);
        const reopened = await store.reopen();
        const removed: Record<string, unknown>[] = [];
        const logger = { info() {}, error() {}, warn: (fields: object) => void removed.push({ ...fields }) };
        await openQueue({ store: reopened, orphanAgeMs: 0, logger });
        // The database keeps staged chunks as rows, SQLite's body segments as bytes in a file.
        expect(removed).toHaveLength(1);
        expect(Number(removed[0]?.chunks) + Number(removed[0]?.segmentBytes)).toBeGreaterThan(0);
        expect(await reopened.readChunk('ORPHAN', 0)).toBeUndefined();
        expect(await reopened.cleanOrphans(Number.MAX_SAFE_INTEGER)).toEqual({
          chunks: 0,
          bodies: 0,
          segmentBytes: 0,
        });
        if (reopened !== store) await reopened.close();
      } finally {
        await store[Symbol.asyncDispose]();
      }
    });

    it('keeps queued messages across a close and reopen', async () => {
      const store = await openStore();
      try {
        const queue = await openQueue({ store });
        const { queueId } = await queue.enqueue({
          envelope: envelope('a@example.org', ['b@one.example']),
          message: 'survives',
        });
        await queue.close();
        await store.close();
        const reopened = await store.reopen();
        const again = await openQueue({ store: reopened });
        expect(await sha256(again.openMessage(queueId))).toBe(sha256Of('survives'));
        expect((await again.counts()).pending).toBe(1);
        await reopened.close();
      } finally {
        await store[Symbol.asyncDispose]().catch(() => undefined);
      }
    });
  });

  describe('worker limits', () => {
    function trackingCourier(delayMs: number) {
      let now = 0;
      let max = 0;
      const perHop = new Map<string, number>();
      const maxPerHop = new Map<string, number>();
      const starts: number[] = [];
      return {
        get max() {
          return max;
        },
        maxPerHop,
        starts,
        async deliver(request: DeliveryRequest) {
          starts.push(performance.now());
          now++;
          max = Math.max(max, now);
          const hop = (perHop.get(request.nextHop) ?? 0) + 1;
          perHop.set(request.nextHop, hop);
          maxPerHop.set(request.nextHop, Math.max(maxPerHop.get(request.nextHop) ?? 0, hop));
          await new Promise((r) => setTimeout(r, delayMs));
          now--;
          perHop.set(request.nextHop, (perHop.get(request.nextHop) ?? 1) - 1);
          return request.envelope.rcptTo.map((r) => delivered(`${r.address.localPart}@${r.address.domain}`));
        },
      };
    }

    it('keeps deliveries within the overall and per-next-hop concurrency', async () => {
      await using t = await setup();
      for (let i = 0; i < 24; i++) {
        await t.queue.enqueue({
          envelope: envelope('a@example.org', [`r${i}@hop${i % 3}.example`]),
          message: 'x',
        });
      }
      const courier = tracking(20);
      function tracking(ms: number) {
        return trackingCourier(ms);
      }
      expect(await createWorker({ queue: t.queue, courier, concurrency: 4, perNextHop: 2 }).runOnce()).toBe(
        24,
      );
      expect(courier.max).toBeLessThanOrEqual(4);
      expect(courier.max).toBeGreaterThan(1);
      expect(Math.max(...courier.maxPerHop.values())).toBeLessThanOrEqual(2);
      expect((await t.queue.counts()).delivered).toBe(24);
    });

    it('paces deliveries to one next hop to the configured rate', async () => {
      await using t = await setup();
      for (let i = 0; i < 5; i++) {
        await t.queue.enqueue({ envelope: envelope('a@example.org', [`r${i}@slow.example`]), message: 'x' });
      }
      const courier = trackingCourier(0);
      const worker = createWorker({ queue: t.queue, courier, rate: { perSecond: 10, burst: 1 }, pollMs: 20 });
      worker.start();
      for (let i = 0; i < 200 && (await t.queue.counts()).delivered < 5; i++)
        await new Promise((r) => setTimeout(r, 25));
      await worker.stop();
      expect((await t.queue.counts()).delivered).toBe(5);
      // Five deliveries at 10/s with a burst of 1 need at least 400 ms from first to last.
      expect((courier.starts.at(-1) ?? 0) - (courier.starts[0] ?? 0)).toBeGreaterThanOrEqual(380);
    });

    it('aborts deliveries still running after the stop grace time and gives their leases back', async () => {
      await using t = await setup();
      const { queueId } = await t.queue.enqueue({
        envelope: envelope('a@example.org', ['b@one.example']),
        message: 'x',
      });
      let started = false;
      const courier = {
        deliver: (_request: DeliveryRequest, signal: AbortSignal) =>
          new Promise<never>((_resolve, reject) => {
            started = true;
            signal.addEventListener('abort', () => reject(signal.reason));
          }),
      };
      const worker = createWorker({ queue: t.queue, courier, stopGraceMs: 50, pollMs: 20 });
      worker.start();
      for (let i = 0; i < 200 && !started; i++) await new Promise((r) => setTimeout(r, 10));
      await worker.stop();
      expect(started).toBe(true);
      expect((await t.queue.show(queueId))?.recipients[0]).toMatchObject({ state: 'pending', attempts: 0 });
    });

    describe('a delivery slower than its lease, with two workers', () => {
      const LEASE_MS = 400;

      /** Two workers on one store, each delivery taking 3 leases; counts arrivals per recipient. */
      async function slowDeliveries(
        renewMs: number | undefined,
        enough: (arrivals: Map<string, number>, queue: Queue) => Promise<boolean> | boolean,
      ) {
        // Leases run out by the wall clock here, as renewals are timed by it.
        await using t = await setup({ clock: { now: () => Date.now() } });
        const rcpts = ['a@one.example', 'b@one.example', 'c@two.example'];
        await t.queue.enqueue({ envelope: envelope('s@example.org', rcpts), message: 'x' });
        const arrivals = new Map<string, number>();
        const courier = {
          async deliver(request: DeliveryRequest, signal: AbortSignal) {
            const asked = request.envelope.rcptTo.map((r) => `${r.address.localPart}@${r.address.domain}`);
            for (const rcpt of asked) arrivals.set(rcpt, (arrivals.get(rcpt) ?? 0) + 1);
            await new Promise<void>((resolve, reject) => {
              const timer = setTimeout(resolve, 3 * LEASE_MS);
              signal.addEventListener('abort', () => {
                clearTimeout(timer);
                reject(signal.reason);
              });
            });
            return asked.map(delivered);
          },
        };
        const workers = ['w1', 'w2'].map((owner) =>
          createWorker({
            queue: t.queue,
            courier,
            owner,
            leaseMs: LEASE_MS,
            pollMs: 20,
            stopGraceMs: 0,
            ...(renewMs === undefined ? {} : { renewMs }),
          }),
        );
        for (const worker of workers) worker.start();
        const deadline = performance.now() + 8 * LEASE_MS;
        while (!(await enough(arrivals, t.queue)) && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        await Promise.all(workers.map((w) => w.stop()));
        return { arrivals, counts: await t.queue.counts() };
      }

      it('renews the leases while it runs: each recipient is delivered exactly once', async () => {
        const { arrivals, counts } = await slowDeliveries(
          undefined,
          async (_, queue) => (await queue.counts()).delivered === 3,
        );
        expect(Object.fromEntries(arrivals)).toEqual({
          'a@one.example': 1,
          'b@one.example': 1,
          'c@two.example': 1,
        });
        expect(counts.delivered).toBe(3);
      });

      it('delivers twice without renewal (what the test above would see if renewal broke)', async () => {
        const { arrivals } = await slowDeliveries(0, (a) => [...a.values()].some((n) => n > 1));
        expect(Math.max(...arrivals.values())).toBeGreaterThan(1);
      });
    });

    it('delivers mail enqueued while it runs without waiting for the poll interval', async () => {
      await using t = await setup();
      const courier = recordingCourier((rcpt) => delivered(rcpt));
      const worker = createWorker({ queue: t.queue, courier, pollMs: 60_000 });
      worker.start();
      await new Promise((r) => setTimeout(r, 50));
      await t.queue.enqueue({ envelope: envelope('a@example.org', ['b@one.example']), message: 'x' });
      for (let i = 0; i < 200 && (await t.queue.counts()).delivered < 1; i++)
        await new Promise((r) => setTimeout(r, 25));
      await worker.stop();
      expect((await t.queue.counts()).delivered).toBe(1);
    });
  });
}
