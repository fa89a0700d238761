import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type Courier, formatAddress, parseAddress } from '@mailyard/smtp';
import { openTempDir } from '@mailyard/testkit';
import { expect, it, vi } from 'vitest';
import { openQueue } from './queue.ts';
import { openSqliteStore } from './sqlite-store.ts';
import { createWorker } from './worker.ts';

const envelope = {
  mailFrom: parseAddress('a@example.org'),
  rcptTo: [{ address: parseAddress('b@example.com') }],
  params: {},
};

it('keeps the database in WAL mode', async () => {
  await using dir = await openTempDir();
  const store = await openSqliteStore({ path: dir.join('q.db') });
  await store.close();
  const db = new DatabaseSync(dir.join('q.db'));
  expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
  db.close();
});

it('reports a full disk as 452 4.3.1 and stays consistent and usable', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db'), maxDatabaseBytes: 1024 * 1024 });
  await using queue = await openQueue({ store });
  const first = await queue.enqueue({ envelope, message: 'first' });
  const error = await queue
    .enqueue({
      envelope,
      message: (async function* () {
        for (let i = 0; i < 6; i++) yield Buffer.alloc(512 * 1024, i);
      })(),
    })
    .catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 452, enhanced: '4.3.1' });
  expect((await queue.list()).map((m) => m.queueId)).toEqual([first.queueId]);
  expect(await store.cleanOrphans(Number.MAX_SAFE_INTEGER)).toEqual({
    chunks: 0,
    bodies: 0,
    segmentBytes: 0,
  });
  const after = await queue.enqueue({ envelope, message: 'after' });
  expect((await queue.list()).map((m) => m.queueId)).toEqual([first.queueId, after.queueId]);
});

it('fails a commit that does not fit the disk with 452 4.3.1 while others in its batch succeed', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db'), maxDatabaseBytes: 700 * 1024 });
  await using queue = await openQueue({ store });
  const results = await Promise.allSettled([
    queue.enqueue({ envelope, message: 'small one' }),
    queue.enqueue({ envelope, message: Buffer.alloc(500 * 1024, 1) }),
    queue.enqueue({ envelope, message: Buffer.alloc(500 * 1024, 2) }),
    queue.enqueue({ envelope, message: 'small two' }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 452 });
  expect(await queue.list()).toHaveLength(3);
});

it('keeps a large body in a segment file beside the database and deletes the file once delivered', async () => {
  await using dir = await openTempDir();
  const path = dir.join('q.db');
  const large = Buffer.alloc(100 * 1024, 7);
  const store = await openSqliteStore({ path });
  const queue = await openQueue({ store });
  const big = await queue.enqueue({ envelope, message: large });
  await queue.enqueue({ envelope, message: 'small mail stays in the database' });
  const [segment] = await readdir(`${path}-bodies`);
  expect((await stat(join(`${path}-bodies`, segment ?? ''))).size).toBe(large.length);
  expect(Buffer.concat(await queue.openMessage(big.queueId).toArray())).toEqual(large);
  const courier: Courier = {
    async deliver(request) {
      await request.openMessage().toArray();
      return request.envelope.rcptTo.map((r) => ({
        rcpt: formatAddress(r.address),
        status: 'delivered' as const,
        reply: '250 2.0.0 Ok',
      }));
    },
  };
  await createWorker({ queue, courier }).runOnce();
  await queue.close();
  await store.close();
  // The next start finds the segment named by no row and deletes it.
  await using reopened = await openSqliteStore({ path });
  await using again = await openQueue({ store: reopened });
  expect((await again.counts()).delivered).toBe(2);
  expect(await readdir(`${path}-bodies`)).toEqual([]);
});

it('records outcomes without waiting for an fsync, and enqueues with one', async () => {
  await using dir = await openTempDir();
  await using store = await openSqliteStore({ path: dir.join('q.db') });
  await using queue = await openQueue({ store });
  const exec = vi.spyOn(DatabaseSync.prototype, 'exec');
  const relaxed = () => exec.mock.calls.filter(([sql]) => sql === 'PRAGMA synchronous = NORMAL').length;
  try {
    await queue.enqueue({ envelope, message: 'hello' });
    expect(relaxed()).toBe(0);
    const [batch] = await queue.lease({ owner: 'test', maxGroups: 1, leaseMs: 60_000 });
    if (!batch) throw new Error('nothing leased');
    const beforeComplete = relaxed();
    await queue.complete(
      batch,
      batch.recipients.map((r) => ({ rcpt: r.rcpt, status: 'delivered' as const, reply: '250 OK' })),
    );
    expect(relaxed()).toBe(beforeComplete + 1);
    expect((await queue.show(batch.queueId))?.recipients[0]?.state).toBe('delivered');
  } finally {
    exec.mockRestore();
  }
});
