import { parseAddress, SmtpError } from '@mailyard/smtp';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { openQueue } from './queue.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { QueueStore } from './store.ts';
import { openThreadedSqliteStore, storeThread } from './threaded-sqlite-store.ts';

const envelope = (...domains: string[]) => ({
  mailFrom: parseAddress('a@example.org'),
  rcptTo: domains.map((d, i) => ({ address: parseAddress(`r${i}@${d}`) })),
  params: {},
});

interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string | undefined;
}

function recordingLogger() {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (fields: object, message?: string): void => {
      entries.push({ level, fields: fields as Record<string, unknown>, message });
    };
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A lease that the thread cannot finish before we kill it: it waits for this thread's answer. */
function blockedLease(store: QueueStore) {
  return store.lease({
    owner: 'w',
    now: Date.now(),
    leaseUntil: Date.now() + 60_000,
    maxGroups: 10,
    maxRecipients: 10,
    exclude: [],
    slotsFor: () => 1,
  });
}

it('fails the calls waiting on a crashed thread with 451 4.3.0, then serves later ones from a new thread', async () => {
  await using dir = await openTempDir();
  const logger = recordingLogger();
  const store = await openThreadedSqliteStore({ path: dir.join('q.db'), logger });
  const queue = await openQueue({ store });
  // Small (in the database), large (a body segment) and staged in chunks (several segment writes).
  const bodies = ['before the crash', Buffer.alloc(100 * 1024, 1), Buffer.alloc(1_300_000, 2)];
  const before = [];
  for (const message of bodies)
    before.push(await queue.enqueue({ envelope: envelope('example.com'), message }));
  // The lease asks this thread for the slots of a next hop it has not seen, and waits inside its
  // transaction, holding SQLite's write lock: the calls after it cannot be answered before the crash.
  const waiting = [blockedLease(store), ...Array.from({ length: 20 }, () => store.counts())];
  // Enqueues racing the crash: each reaches the dying thread (and fails) or the new one.
  const racing = Array.from({ length: 20 }, (_, i) =>
    queue.enqueue({ envelope: envelope('example.com'), message: `message ${i}` }),
  );
  const dead = store[storeThread];
  const started = performance.now();
  await dead.terminate();
  // A thread blocked waiting for an answer is ended at once, not after its wait runs out.
  expect(performance.now() - started).toBeLessThan(2000);
  for (const outcome of await Promise.allSettled(waiting)) {
    expect(outcome.status).toBe('rejected');
    const error = (outcome as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(SmtpError);
    expect(error).toMatchObject({ code: 451, enhanced: '4.3.0' });
  }
  const acknowledged = [...before];
  for (const outcome of await Promise.allSettled(racing)) {
    if (outcome.status === 'fulfilled') acknowledged.push(outcome.value);
    else expect(outcome.reason).toMatchObject({ code: 451, enhanced: '4.3.0' });
  }
  // Later calls go to the new thread, which found the write lock released with the dead one.
  const after = await queue.enqueue({ envelope: envelope('example.com'), message: 'after the crash' });
  acknowledged.push(after);
  expect(store[storeThread]).not.toBe(dead);
  expect(performance.now() - started).toBeLessThan(3000);
  const leased = await queue.lease({ owner: 'w', maxGroups: 100, leaseMs: 60_000 });
  const ids = acknowledged.map((e) => e.queueId).sort();
  expect(leased.map((b) => b.queueId).sort()).toEqual(ids);
  // What was acknowledged is all there, byte-identical.
  expect((await queue.list()).map((m) => m.queueId).sort()).toEqual(ids);
  for (const [i, { queueId }] of before.entries()) {
    expect(Buffer.concat(await queue.openMessage(queueId).toArray())).toEqual(Buffer.from(bodies[i] ?? ''));
  }
  expect(logger.entries.map((e) => [e.level, e.message])).toEqual([
    ['warn', 'queue store: thread died, starting a new one'],
    ['info', 'queue store: thread restarted'],
  ]);
  expect(logger.entries[0]?.fields).toMatchObject({ restarts: 1, delayMs: 100 });
  await queue.close();
  await store.close();
});

it('gives up after maxRestarts deaths within the window and stays failed, saying so', async () => {
  await using dir = await openTempDir();
  const logger = recordingLogger();
  const store = await openThreadedSqliteStore({
    path: dir.join('q.db'),
    logger,
    restart: { maxRestarts: 2, delayMs: 10 },
  });
  await using queue = await openQueue({ store });
  const { queueId } = await queue.enqueue({ envelope: envelope('example.com'), message: 'kept' });
  for (let i = 0; i < 2; i++) {
    await store[storeThread].terminate();
    // Waits for the next thread: a restart, within the limit.
    expect((await store.counts()).pending).toBe(1);
  }
  const last = store[storeThread];
  await last.terminate();
  const error = await store.counts().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SmtpError);
  expect(error).toMatchObject({ code: 451, enhanced: '4.3.0' });
  // The reason, for the log: the thread was given up on (the message is for the SMTP client).
  expect((error as SmtpError).cause).toBeInstanceOf(Error);
  expect(logger.entries.at(-1)).toMatchObject({
    level: 'error',
    message: 'queue store: thread keeps dying, giving up',
    fields: { restarts: 2 },
  });
  // Well past the restart delay: still failed, and no thread was started again.
  await new Promise((r) => setTimeout(r, 100));
  await expect(
    queue.enqueue({ envelope: envelope('example.com'), message: 'refused' }),
  ).rejects.toMatchObject({ code: 451, enhanced: '4.3.0' });
  expect(store[storeThread]).toBe(last);
  await store.close();
  await using reopened = await openSqliteStore({ path: dir.join('q.db') });
  expect((await reopened.getMessage(queueId))?.id).toBe(queueId);
});

it('closes at once while a restart waits, failing the calls that waited with 451 4.3.2', async () => {
  await using dir = await openTempDir();
  const logger = recordingLogger();
  const store = await openThreadedSqliteStore({ path: dir.join('q.db'), logger, restart: { delayMs: 300 } });
  const dead = store[storeThread];
  await dead.terminate();
  const waited = store.counts().catch((e: unknown) => e);
  const started = performance.now();
  await store.close();
  expect(performance.now() - started).toBeLessThan(200);
  expect(await waited).toMatchObject({ code: 451, enhanced: '4.3.2' });
  // Past the restart delay: the restart was called off, no thread started.
  await new Promise((r) => setTimeout(r, 400));
  expect(store[storeThread]).toBe(dead);
  expect(logger.entries.map((e) => e.message)).toEqual(['queue store: thread died, starting a new one']);
});

it('ends a new thread still opening when the store closes', async () => {
  await using dir = await openTempDir();
  const store = await openThreadedSqliteStore({ path: dir.join('q.db'), restart: { delayMs: 0 } });
  const dead = store[storeThread];
  await dead.terminate();
  const waited = store.counts().catch((e: unknown) => e);
  for (let i = 0; i < 200 && store[storeThread] === dead; i++) await new Promise((r) => setTimeout(r, 1));
  const opening = store[storeThread];
  expect(opening).not.toBe(dead);
  const exited = new Promise<number>((resolve) => opening.once('exit', resolve));
  await store.close();
  await exited;
  expect(await waited).toMatchObject({ code: 451, enhanced: '4.3.2' });
});

it('fails an enqueue whose body chunks were staged in a thread that died, rather than commit holes', async () => {
  await using dir = await openTempDir();
  await using store = await openThreadedSqliteStore({ path: dir.join('q.db') });
  await using queue = await openQueue({ store });
  let staged!: () => void;
  const stagedFirst = new Promise<void>((resolve) => {
    staged = resolve;
  });
  let go!: () => void;
  const resume = new Promise<void>((resolve) => {
    go = resolve;
  });
  // 600 KiB: the first 512 KiB chunk is staged (in the old thread) before the generator resumes.
  const enqueue = queue.enqueue({
    envelope: envelope('example.com'),
    message: (async function* () {
      yield Buffer.alloc(600 * 1024, 7);
      staged();
      await resume;
      yield Buffer.from('the tail');
    })(),
  });
  await stagedFirst;
  await store[storeThread].terminate();
  expect((await store.counts()).pending).toBe(0);
  go();
  await expect(enqueue).rejects.toMatchObject({ code: 451, enhanced: '4.3.0' });
  expect(await queue.list()).toEqual([]);
  // The same message, sent again (as the client will), goes in whole.
  const body = Buffer.concat([Buffer.alloc(600 * 1024, 7), Buffer.from('the tail')]);
  const { queueId } = await queue.enqueue({ envelope: envelope('example.com'), message: body });
  expect(Buffer.concat(await queue.openMessage(queueId).toArray())).toEqual(body);
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
