import { readdir, stat } from 'node:fs/promises';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { openBodySegments } from './body-segments.ts';

const bytes = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

it('writes chunks back to back in one segment and reads each back by its extent', async () => {
  await using dir = await openTempDir();
  const segments = await openBodySegments({ dir: dir.join('bodies') });
  const extents = await segments.append([[bytes(10, 1)], [bytes(20, 2)]]);
  await segments.sync(extents.map((e) => e.segment));
  expect(extents).toEqual([
    { segment: 1, offset: 0, length: 10 },
    { segment: 1, offset: 10, length: 20 },
  ]);
  expect(await segments.read(extents[1] ?? extents[0]!)).toEqual(bytes(20, 2));
  await segments.close();
});

it('writes a chunk of several pieces as one extent, its pieces back to back', async () => {
  await using dir = await openTempDir();
  const segments = await openBodySegments({ dir: dir.join('bodies') });
  const [first, second] = await segments.append([[bytes(3, 1), bytes(0, 9), bytes(4, 2)], [bytes(5, 3)]]);
  expect([first, second]).toEqual([
    { segment: 1, offset: 0, length: 7 },
    { segment: 1, offset: 7, length: 5 },
  ]);
  expect(await segments.read(first!)).toEqual(Buffer.concat([bytes(3, 1), bytes(4, 2)]));
  await segments.close();
});

it('starts a new segment once the newest is full, and a fresh one on every open', async () => {
  await using dir = await openTempDir();
  const first = await openBodySegments({ dir: dir.join('bodies'), maxSegmentBytes: 100 });
  const a = await first.append([[bytes(80, 1)]]);
  const b = await first.append([[bytes(80, 2)]]);
  expect([a[0]?.segment, b[0]?.segment]).toEqual([1, 2]);
  expect(first.rolled).toBe(true);
  await first.close();
  const second = await openBodySegments({ dir: dir.join('bodies'), maxSegmentBytes: 100 });
  expect((await second.append([[bytes(1, 3)]]))[0]?.segment).toBe(3);
  expect(await second.read(b[0]!)).toEqual(bytes(80, 2));
  await second.close();
});

it('deletes segments no row names and cuts unnamed bytes off the end of the others', async () => {
  await using dir = await openTempDir();
  const path = dir.join('bodies');
  const before = await openBodySegments({ dir: path, maxSegmentBytes: 100 });
  const named = await before.append([[bytes(30, 1)], [bytes(30, 2)]]); // segment 1: 60 bytes, 30 named
  before.unpin(named);
  const dead = await before.append([[bytes(90, 3)]]); // segment 2: nothing names it
  before.unpin(dead);
  await before.close();
  const segments = await openBodySegments({ dir: path, maxSegmentBytes: 100 });
  const freed = await segments.reclaim(new Map([[1, 30]]), segments.guard());
  expect(freed).toBe(30 + 90);
  expect(await readdir(path)).toEqual(['0000000001.seg']);
  expect((await stat(dir.join('bodies', '0000000001.seg'))).size).toBe(30);
  expect(await segments.read(named[0]!)).toEqual(bytes(30, 1));
  await segments.close();
});

it('never reclaims the segment being written or one whose bytes still wait for their commit', async () => {
  await using dir = await openTempDir();
  const path = dir.join('bodies');
  const segments = await openBodySegments({ dir: path, maxSegmentBytes: 100 });
  const waiting = await segments.append([[bytes(80, 1)]]); // segment 1, pinned until unpinned
  await segments.append([[bytes(80, 2)]]); // segment 2, the newest
  expect(await segments.reclaim(new Map(), segments.guard())).toBe(0);
  expect((await readdir(path)).sort()).toEqual(['0000000001.seg', '0000000002.seg']);
  segments.unpin(waiting);
  expect(await segments.reclaim(new Map(), segments.guard())).toBe(80);
  expect(await readdir(path)).toEqual(['0000000002.seg']);
  await segments.close();
});

it('refuses an append beyond its room with ENOSPC and keeps working below it', async () => {
  await using dir = await openTempDir();
  const segments = await openBodySegments({ dir: dir.join('bodies'), room: () => 100 });
  await segments.append([[bytes(60, 1)]]);
  await expect(segments.append([[bytes(60, 2)]])).rejects.toMatchObject({ code: 'ENOSPC' });
  expect((await segments.append([[bytes(40, 3)]]))[0]).toEqual({ segment: 1, offset: 60, length: 40 });
  await segments.close();
});
