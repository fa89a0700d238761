import { parseAddress, SmtpError } from '@mailyard/smtp';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { openQueue } from './queue.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { openThreadedSqliteStore, storeThread } from './threaded-sqlite-store.ts';

const envelope = (...domains: string[]) => ({
  mailFrom: parseAddress('a@example.org'),
  rcptTo: domains.map((d, i) => ({ address: parseAddress(`r${i}@${d}`) })),
  params: {},
});

it('rejects every call waiting on a crashed thread, and every later one, with 451 4.3.0', async () => {
  await using dir = await openTempDir();
  const store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  const queue = await openQueue({ store });
  await queue.enqueue({ envelope: envelope('example.com'), message: 'before the crash' });
  // The lease asks this thread for the slots of a next hop it has not seen, and waits: the calls
  // after it cannot be answered before the crash.
  const lease = store.lease({
    owner: 'w',
    now: Date.now(),
    leaseUntil: Date.now() + 60_000,
    maxGroups: 10,
    maxRecipients: 10,
    exclude: [],
    slotsFor: () => 1,
  });
  const waiting = [lease, ...Array.from({ length: 20 }, () => store.counts())];
  const enqueues = Array.from({ length: 20 }, (_, i) =>
    queue.enqueue({ envelope: envelope('example.com'), message: `message ${i}` }),
  );
  const started = performance.now();
  await store[storeThread].terminate();
  // A thread blocked waiting for an answer is ended at once, not after its wait runs out.
  expect(performance.now() - started).toBeLessThan(2000);
  for (const outcome of await Promise.allSettled([...waiting, ...enqueues])) {
    expect(outcome.status).toBe('rejected');
    const error = (outcome as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(SmtpError);
    expect(error).toMatchObject({ code: 451, enhanced: '4.3.0' });
  }
  await expect(store.getMessage('x')).rejects.toMatchObject({ code: 451, enhanced: '4.3.0' });
  await expect(
    queue.enqueue({ envelope: envelope('example.com'), message: 'after the crash' }),
  ).rejects.toMatchObject({ code: 451 });
  await queue.close();
  await store.close();
  // What was acknowledged before the crash is there.
  await using reopened = await openSqliteStore({ path: dir.join('q.db') });
  expect((await reopened.counts()).pending).toBeGreaterThanOrEqual(1);
});

it('passes a full disk through the thread as 452 4.3.1 and stays usable', async () => {
  await using dir = await openTempDir();
  await using store = await openThreadedSqliteStore({ path: dir.join('q.db'), maxDatabaseBytes: 700 * 1024 });
  await using queue = await openQueue({ store });
  const results = await Promise.allSettled([
    queue.enqueue({ envelope: envelope('example.com'), message: 'small one' }),
    queue.enqueue({ envelope: envelope('example.com'), message: Buffer.alloc(500 * 1024, 1) }),
    queue.enqueue({ envelope: envelope('example.com'), message: Buffer.alloc(500 * 1024, 2) }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
  const error = (results[2] as PromiseRejectedResult).reason;
  expect(error).toBeInstanceOf(SmtpError);
  expect(error).toMatchObject({ code: 452, enhanced: '4.3.1' });
  // The detail stays in the cause, with the code the worker saw.
  expect((error as SmtpError).cause).toMatchObject({ code: 'ENOSPC' });
  await queue.enqueue({ envelope: envelope('example.com'), message: 'small two' });
  expect(await queue.list()).toHaveLength(3);
});

it('finishes calls made before close, then ends the thread; later calls get 451 4.3.2', async () => {
  await using dir = await openTempDir();
  const store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  const exited = new Promise<number>((resolve) => store[storeThread].once('exit', resolve));
  const counts = Array.from({ length: 10 }, () => store.counts());
  const closing = store.close();
  await expect(store.counts()).rejects.toMatchObject({ code: 451, enhanced: '4.3.2' });
  for (const c of await Promise.all(counts)) expect(c.pending).toBe(0);
  await closing;
  await exited;
  await store.close();
});

it('leaves the caller its buffers: bodies are copied to the thread, not taken', async () => {
  await using dir = await openTempDir();
  await using store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  await using queue = await openQueue({ store });
  const small = Buffer.from('Subject: x\r\n\r\nsmall\r\n');
  const large = Buffer.alloc(1_300_000, 3);
  const a = await queue.enqueue({ envelope: envelope('example.com'), message: small });
  const b = await queue.enqueue({ envelope: envelope('example.com'), message: large });
  expect(small.toString()).toBe('Subject: x\r\n\r\nsmall\r\n');
  expect(large.byteLength).toBe(1_300_000);
  expect(large.every((x) => x === 3)).toBe(true);
  expect(Buffer.concat(await queue.openMessage(a.queueId).toArray())).toEqual(small);
  expect(Buffer.concat(await queue.openMessage(b.queueId).toArray())).toEqual(large);
});

it('reads back a large body whose last chunk is a few bytes (a pooled buffer in the thread)', async () => {
  await using dir = await openTempDir();
  await using store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  await using queue = await openQueue({ store });
  const body = Buffer.alloc(512 * 1024 + 292, 5);
  const { queueId } = await queue.enqueue({ envelope: envelope('example.com'), message: body });
  for (let i = 0; i < 3; i++) {
    expect(Buffer.concat(await queue.openMessage(queueId).toArray())).toEqual(body);
  }
  expect(await store.counts()).toMatchObject({ pending: 1 });
});

it("asks the caller's slotsFor for each next hop, new and already seen", async () => {
  await using dir = await openTempDir();
  await using store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  await using queue = await openQueue({ store });
  for (let i = 0; i < 3; i++) {
    await queue.enqueue({ envelope: envelope('a.example', 'b.example'), message: `m${i}` });
  }
  const asked: string[] = [];
  const lease = () =>
    queue.lease({
      owner: 'w',
      maxGroups: 10,
      leaseMs: 60_000,
      slotsFor(hop) {
        asked.push(hop);
        return hop === 'a.example' ? 1 : 2;
      },
    });
  const first = await lease();
  expect(first.map((b) => b.nextHop).sort()).toEqual(['a.example', 'b.example', 'b.example']);
  expect([...new Set(asked)].sort()).toEqual(['a.example', 'b.example']);
  for (const batch of first) await queue.abandon(batch);
  asked.length = 0;
  const second = await lease();
  expect(second.map((b) => b.nextHop).sort()).toEqual(['a.example', 'b.example', 'b.example']);
  expect([...new Set(asked)].sort()).toEqual(['a.example', 'b.example']);
});

it('fails to open with the error the thread met, and leaves no thread behind', async () => {
  await using dir = await openTempDir();
  const error = await openThreadedSqliteStore({ path: dir.join('missing', 'q.db') }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Error);
  expect(error).toMatchObject({ code: 'ERR_SQLITE_ERROR' });
});

it('is what openSqliteStore opens with thread: true', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db'), thread: true });
  expect(storeThread in store).toBe(true);
  expect(store.kind).toBe('sqlite');
});
