// Body segments: where the SQLite store keeps message bodies above a few KiB — append-only files
// beside the database, so a body is written once (not into the WAL and again at checkpoint, page
// by page) and a group of them costs one writev and one fdatasync. The database row that names an
// extent is the commit marker; the store fsyncs the segment before that row's transaction, so a
// committed extent is always on disk, and bytes without a row are orphans (a crash, a failed
// enqueue). Orphans at the end of a segment are cut off at start; a segment is deleted once no row
// names it. Only the newest segment is ever appended to, so an older one changes only by deletion.

import { type FileHandle, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { storeClosedError } from './errors.ts';
import type { ChunkParts } from './store.ts';

export interface Extent {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

export interface BodySegmentsOptions {
  /** The directory of the segment files (created if missing). */
  readonly dir: string;
  /** A segment is closed for appends once it holds this much. Default 64 MiB. */
  readonly maxSegmentBytes?: number;
  /** Bytes the segments may occupy in all, asked before each append; exceeding it is ENOSPC. */
  readonly room?: () => number;
}

export interface BodySegments {
  /**
   * Writes `chunks` one after another to the newest segment (one writev of all their parts, not
   * flushed) and returns an extent per chunk. Their segment is pinned — kept from deletion — until
   * `unpin`.
   */
  append(chunks: readonly ChunkParts[]): Promise<Extent[]>;
  unpin(extents: readonly Extent[]): void;
  /** Flushes these segments' writes so far (fdatasync); fails if an earlier flush of one failed. */
  sync(segments: Iterable<number>): Promise<void>;
  read(extent: Extent): Promise<Uint8Array>;
  /** Whether a segment was closed for appends since the last `reclaim`: time to look for dead ones. */
  readonly rolled: boolean;
  /**
   * Deletes segments that no row names (`ends` has the end of the last named extent per segment)
   * and cuts unnamed bytes off the ends of the others — never the newest or a pinned one, as
   * `before` (taken before the rows were read) found them: only those can still gain rows.
   * Returns the bytes freed.
   */
  reclaim(ends: ReadonlyMap<number, number>, before: ReclaimGuard): Promise<number>;
  /** What must not be reclaimed: taken before reading which extents are live. */
  guard(): ReclaimGuard;
  close(): Promise<void>;
}

export interface ReclaimGuard {
  readonly newest: number;
  readonly pinned: ReadonlySet<number>;
}

interface Segment {
  readonly id: number;
  size: number;
  readonly handle: Promise<FileHandle>;
}

const NAME = /^(\d{10})\.seg$/;
const fileOf = (dir: string, id: number): string => join(dir, `${String(id).padStart(10, '0')}.seg`);

function noSpace(message: string): Error {
  return Object.assign(new Error(message), { code: 'ENOSPC' });
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function openBodySegments(options: BodySegmentsOptions): Promise<BodySegments> {
  const { dir } = options;
  const maxSegmentBytes = options.maxSegmentBytes ?? 64 * 1024 * 1024;
  const created = (await mkdir(dir, { recursive: true })) !== undefined;
  if (created) await syncDir(join(dir, '..'));
  const sizes = new Map<number, number>();
  for (const name of await readdir(dir)) {
    const match = NAME.exec(name);
    if (match) sizes.set(Number(match[1]), (await stat(join(dir, name))).size);
  }
  let total = [...sizes.values()].reduce((a, b) => a + b, 0);
  // A fresh segment per open: never append after bytes a crash may have left half-written.
  let nextId = Math.max(0, ...sizes.keys()) + 1;
  let current: Segment | undefined;
  let rolled = false;
  const handles = new Map<number, Promise<FileHandle>>();
  const pins = new Map<number, number>();
  const dirty = new Set<number>();
  const failed = new Set<number>();
  let syncing: Promise<unknown> = Promise.resolve();
  let closed = false;

  function startSegment(): Segment {
    if (current) rolled = true;
    const id = nextId++;
    const handle = (async () => {
      const file = await open(fileOf(dir, id), 'wx');
      // The name must survive a crash as well as the bytes: flush the directory once per segment.
      await syncDir(dir);
      return file;
    })();
    handle.catch(() => undefined);
    handles.set(id, handle);
    sizes.set(id, 0);
    return { id, size: 0, handle };
  }

  const segments: BodySegments = {
    async append(chunks) {
      if (closed) throw storeClosedError();
      if (chunks.length === 0) return [];
      const parts: Uint8Array[] = [];
      const lengths: number[] = [];
      let length = 0;
      for (const chunk of chunks) {
        let size = 0;
        for (const part of chunk) {
          size += part.byteLength;
          if (part.byteLength > 0) parts.push(part);
        }
        lengths.push(size);
        length += size;
      }
      if (options.room && total + length > options.room()) throw noSpace('queue storage quota exceeded');
      if (!current || (current.size > 0 && current.size + length > maxSegmentBytes)) current = startSegment();
      const segment = current;
      const start = segment.size;
      segment.size += length;
      total += length;
      sizes.set(segment.id, segment.size);
      pins.set(segment.id, (pins.get(segment.id) ?? 0) + 1);
      const extents: Extent[] = [];
      let offset = start;
      for (const size of lengths) {
        extents.push({ segment: segment.id, offset, length: size });
        offset += size;
      }
      try {
        const handle = await segment.handle;
        const { bytesWritten } = await handle.writev(parts, start);
        if (bytesWritten !== length) throw new Error(`short write to body segment ${segment.id}`);
        dirty.add(segment.id);
      } catch (error) {
        segments.unpin(extents.slice(0, 1));
        // The bytes may be partly there: leave this segment to the others and start a new one.
        if (current === segment) current = undefined;
        throw error;
      }
      return extents;
    },

    unpin(extents) {
      // An append pins its segment once, whatever the number of parts: unpin by the first extent.
      const first = extents[0];
      if (!first) return;
      const left = (pins.get(first.segment) ?? 1) - 1;
      if (left > 0) pins.set(first.segment, left);
      else pins.delete(first.segment);
    },

    sync(wanted) {
      const ids = [...new Set(wanted)];
      // Chained, so that a caller never returns while a flush covering its bytes is still running.
      const run = syncing.then(async () => {
        const flush = ids.filter((id) => dirty.has(id));
        for (const id of flush) dirty.delete(id);
        const results = await Promise.allSettled(
          flush.map(async (id) => {
            const handle = await handles.get(id);
            await handle?.datasync();
          }),
        );
        results.forEach((r, i) => {
          // After a failed fsync the kernel may have dropped the pages: never trust it again.
          if (r.status === 'rejected') failed.add(flush[i] as number);
        });
        const bad = ids.find((id) => failed.has(id));
        if (bad !== undefined) {
          if (current?.id === bad) current = undefined;
          const reason = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
          throw reason?.reason ?? new Error(`body segment ${bad} failed to flush earlier`);
        }
      });
      syncing = run.catch(() => undefined);
      return run;
    },

    async read(extent) {
      const handle = await open(fileOf(dir, extent.segment), 'r');
      try {
        const buffer = Buffer.allocUnsafe(extent.length);
        let done = 0;
        while (done < extent.length) {
          const { bytesRead } = await handle.read(buffer, done, extent.length - done, extent.offset + done);
          if (bytesRead === 0) throw new Error(`body segment ${extent.segment} is shorter than its extent`);
          done += bytesRead;
        }
        return buffer;
      } finally {
        await handle.close();
      }
    },

    get rolled() {
      return rolled;
    },

    guard() {
      return { newest: current?.id ?? nextId, pinned: new Set(pins.keys()) };
    },

    async reclaim(ends, before) {
      rolled = false;
      let freed = 0;
      for (const [id, size] of [...sizes]) {
        if (id >= before.newest || before.pinned.has(id) || pins.has(id) || id === current?.id) continue;
        const end = ends.get(id);
        if (end === undefined) {
          const handle = handles.get(id);
          handles.delete(id);
          await (await handle?.catch(() => undefined))?.close();
          await rm(fileOf(dir, id), { force: true });
          sizes.delete(id);
          failed.delete(id);
          dirty.delete(id);
          total -= size;
          freed += size;
        } else if (end < size) {
          const handle = await open(fileOf(dir, id), 'r+');
          try {
            await handle.truncate(end);
            await handle.datasync();
          } finally {
            await handle.close();
          }
          sizes.set(id, end);
          total -= size - end;
          freed += size - end;
        }
      }
      return freed;
    },

    async close() {
      if (closed) return;
      closed = true;
      await syncing;
      for (const handle of handles.values()) await (await handle.catch(() => undefined))?.close();
      handles.clear();
    },
  };
  return segments;
}
