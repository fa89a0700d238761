// Raw message bytes, kept beside the SQLite database in append-only segment files
// (`<database>-raw/<n>.seg`), with the database holding where each message's bytes are.
//
// Why not in SQLite: a 100 KB blob is ~25 overflow pages, written to the WAL at commit and again
// by the checkpoint — about a third of the sink's CPU per message. Here a group commit's
// messages go out in one pwritev, and nothing is written twice.
//
// A message is a list of extents (segment, offset, length): one for a message committed whole,
// several for a large one written while it streams in (its chunks interleave with others').
// Each segment counts the extents that refer to it, stored or still streaming in; a segment that
// is no longer written to is deleted once its count reaches zero. Opening the store deletes every
// segment no stored message refers to (the leftovers of a crash) and writes to a new segment.

import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createByteMeter } from '@mailyard/smtp';

export interface Extent {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** By default a new segment is started once the current one holds this much. */
const SEGMENT_BYTES = 64 * 1024 * 1024;
/** Buffers per pwritev: IOV_MAX on Linux. */
const IOV_MAX = 1024;
/** Bytes a reader reads at a time. */
const READ_BYTES = 1024 * 1024;
const NAME = /^(\d+)\.seg$/;

/** `segment:offset:length` per extent, comma-separated: the form the database keeps. */
export function encodeExtents(extents: readonly Extent[]): string {
  return extents.map((e) => `${e.segment}:${e.offset}:${e.length}`).join(',');
}

export function decodeExtents(text: string): Extent[] {
  if (text === '') return [];
  return text.split(',').map((part) => {
    const [segment, offset, length] = part.split(':').map(Number);
    return { segment: segment!, offset: offset!, length: length! };
  });
}

export class RawSegments {
  readonly dir: string;
  /** Extents referring to each segment that exists. */
  #refs = new Map<number, number>();
  #current: number;
  #fd: number;
  #position = 0;
  #segmentBytes: number;
  #closed = false;

  /** `referenced`: every extent of every stored message. */
  constructor(dir: string, referenced: Iterable<Extent>, options: { segmentBytes?: number } = {}) {
    this.dir = dir;
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
    mkdirSync(dir, { recursive: true });
    for (const extent of referenced)
      this.#refs.set(extent.segment, (this.#refs.get(extent.segment) ?? 0) + 1);
    let last = 0;
    for (const name of readdirSync(dir)) {
      const match = NAME.exec(name);
      if (!match) continue;
      const segment = Number(match[1]);
      last = Math.max(last, segment);
      if (!this.#refs.has(segment)) rmSync(join(dir, name), { force: true });
    }
    for (const segment of this.#refs.keys()) last = Math.max(last, segment);
    this.#current = last + 1;
    this.#fd = this.#openSegment(this.#current);
  }

  #path(segment: number): string {
    return join(this.dir, `${segment}.seg`);
  }

  #openSegment(segment: number): number {
    const fd = openSync(this.#path(segment), 'w');
    this.#refs.set(segment, this.#refs.get(segment) ?? 0);
    return fd;
  }

  /**
   * Appends each message's buffers, all in one write, and returns one extent per message (null
   * for a message with no bytes). The bytes are in the file (the OS's cache) when it returns.
   */
  append(messages: readonly (readonly Buffer[])[]): (Extent | null)[] {
    if (this.#closed) throw new Error('the store is closed');
    const segment = this.#current;
    const extents: (Extent | null)[] = [];
    const buffers: Buffer[] = [];
    let offset = this.#position;
    for (const parts of messages) {
      let length = 0;
      for (const part of parts) {
        if (part.length === 0) continue;
        buffers.push(part);
        length += part.length;
      }
      extents.push(length === 0 ? null : { segment, offset, length });
      offset += length;
    }
    this.#write(buffers);
    for (const extent of extents) if (extent) this.#refs.set(segment, this.#refs.get(segment)! + 1);
    if (this.#position >= this.#segmentBytes) this.#roll();
    return extents;
  }

  #write(buffers: Buffer[]): void {
    let start = 0;
    while (start < buffers.length) {
      const batch = buffers.slice(start, start + IOV_MAX);
      const total = batch.reduce((sum, b) => sum + b.length, 0);
      let written = writevSync(this.#fd, batch, this.#position);
      // A short write leaves the rest to write again (rare, but allowed for regular files).
      while (written < total) {
        let skip = written;
        const rest: Buffer[] = [];
        for (const b of batch) {
          if (skip >= b.length) skip -= b.length;
          else {
            rest.push(skip > 0 ? b.subarray(skip) : b);
            skip = 0;
          }
        }
        written += writevSync(this.#fd, rest, this.#position + written);
      }
      this.#position += total;
      start += IOV_MAX;
    }
  }

  #roll(): void {
    let fd: number;
    try {
      fd = this.#openSegment(this.#current + 1);
    } catch {
      // No new file now (a full disk, no descriptors): the current one goes on, and the next
      // append tries again. The bytes just written are stored either way.
      return;
    }
    const previous = this.#current;
    closeSync(this.#fd);
    this.#fd = fd;
    this.#current++;
    this.#position = 0;
    if (this.#refs.get(previous) === 0) this.#remove(previous);
  }

  #remove(segment: number): void {
    this.#refs.delete(segment);
    rmSync(this.#path(segment), { force: true });
  }

  /** The extents are no longer referred to (their message is deleted, aborted or not stored). */
  release(extents: Iterable<Extent>): void {
    for (const { segment } of extents) {
      const refs = this.#refs.get(segment);
      if (refs === undefined) continue;
      this.#refs.set(segment, refs - 1);
      if (refs === 1 && segment !== this.#current) this.#remove(segment);
    }
  }

  /**
   * Streams the extents' bytes. A message deleted before or while it is read ends early, as an
   * empty or short read: its segment may be gone.
   */
  open(extents: readonly Extent[]): Readable {
    let index = 0;
    let done = 0;
    let fd: number | null = null;
    let segment = -1;
    // Every reader of a large message (parser, verdicts, API) leaves its chunks behind as garbage;
    // the meter has it collected as it goes, so a 50 MB message stays within its memory bound.
    const meter = createByteMeter();
    const closeFd = () => {
      if (fd !== null) closeSync(fd);
      fd = null;
    };
    const paths = (n: number) => this.#path(n);
    return new Readable({
      read() {
        try {
          const extent = extents[index];
          if (!extent) {
            closeFd();
            this.push(null);
            return;
          }
          if (fd === null || segment !== extent.segment) {
            closeFd();
            segment = extent.segment;
            try {
              fd = openSync(paths(segment), 'r');
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
              this.push(null);
              return;
            }
          }
          const chunk = Buffer.allocUnsafe(Math.min(READ_BYTES, extent.length - done));
          const n = readSync(fd, chunk, 0, chunk.length, extent.offset + done);
          if (n === 0) {
            closeFd();
            this.push(null);
            return;
          }
          done += n;
          if (done === extent.length) {
            index++;
            done = 0;
          }
          meter.add(n);
          this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
        } catch (error) {
          closeFd();
          this.destroy(error as Error);
        }
      },
      destroy(error, callback) {
        closeFd();
        callback(error);
      },
    });
  }

  /** Bytes in all segment files. */
  size(): number {
    let total = 0;
    for (const segment of this.#refs.keys()) {
      try {
        total += statSync(this.#path(segment)).size;
      } catch {}
    }
    return total;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
