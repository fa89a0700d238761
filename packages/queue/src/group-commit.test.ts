import { expect, it } from 'vitest';
import { createGroupCommit } from './group-commit.ts';

it('writes items added in the same turn as one batch and resolves each after it', async () => {
  const batches: number[][] = [];
  const commit = createGroupCommit<number>(async (batch) => {
    batches.push([...batch]);
  });
  await Promise.all([1, 2, 3].map((n) => commit.add(n)));
  expect(batches).toEqual([[1, 2, 3]]);
});

it('gathers the next batch while one is being written', async () => {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  const commit = createGroupCommit<number>(async (batch) => {
    batches.push([...batch]);
    if (batches.length === 1) await new Promise<void>((r) => (release = r));
  });
  const first = commit.add(1);
  await new Promise((r) => setImmediate(r));
  const later = [commit.add(2), commit.add(3)];
  release?.();
  await Promise.all([first, ...later]);
  expect(batches).toEqual([[1], [2, 3]]);
});

it('fails only the item whose write fails when a batch fails', async () => {
  const commit = createGroupCommit<number>(async (batch) => {
    if (batch.includes(2)) throw new Error('bad item');
  });
  const results = await Promise.allSettled([1, 2, 3].map((n) => commit.add(n)));
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
});

it('drains: resolves once nothing is pending', async () => {
  let written = 0;
  const commit = createGroupCommit<number>(async (batch) => {
    await new Promise((r) => setTimeout(r, 5));
    written += batch.length;
  });
  void commit.add(1);
  void commit.add(2);
  await commit.drain();
  expect(written).toBe(2);
});

it('writes a second batch while the first is still being written when concurrency allows', async () => {
  const started: number[][] = [];
  const releases: (() => void)[] = [];
  const commit = createGroupCommit<number>(
    async (batch) => {
      started.push([...batch]);
      await new Promise<void>((r) => releases.push(r));
    },
    1000,
    2,
  );
  const first = commit.add(1);
  await new Promise((r) => setImmediate(r));
  const second = commit.add(2);
  await new Promise((r) => setImmediate(r));
  const third = commit.add(3);
  await new Promise((r) => setImmediate(r));
  // Two batches under way, the third waits for a free slot.
  expect(started).toEqual([[1], [2]]);
  releases[0]?.();
  await first;
  await new Promise((r) => setImmediate(r));
  expect(started).toEqual([[1], [2], [3]]);
  releases[1]?.();
  releases[2]?.();
  await Promise.all([second, third]);
  await commit.drain();
});
