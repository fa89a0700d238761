// The forwarder must read a message three times before it may answer DATA (DESIGN.md: 250 only
// after the commit): once to verify it (DKIM body hashes, DMARC needs the verdict before we reply
// 550 5.7.1 to a p=reject failure), once to seal it (ARC covers the whole message) and once to
// enqueue it. Small messages — nearly all mail — stay in memory; past `memoryLimit` octets the
// rest goes to a file of the data dir, so twenty 25 MiB messages in flight do not cost 500 MiB.

import { randomUUID } from 'node:crypto';
import { closeSync, createReadStream, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export const DEFAULT_MEMORY_LIMIT = 1024 * 1024;
/** Enough of a message to hold any sane header block (as the relay's header rules read it). */
export const HEAD_LIMIT = 256 * 1024;

export interface Spooled extends Disposable {
  readonly size: number;
  /** The whole message when it stayed in memory, else null. */
  readonly buffer: Buffer | null;
  /** The first octets of the message (all of it, or at least HEAD_LIMIT). */
  readonly head: Buffer;
  /** Reads the message from the start; may be called any number of times. */
  open(): Readable;
  /** Removes the file, if any. */
  dispose(): void;
}

export interface SpoolOptions {
  /** Folder for messages larger than `memoryLimit`. */
  readonly dir: string;
  readonly memoryLimit?: number; // at least HEAD_LIMIT
}

function inMemory(buffer: Buffer): Spooled {
  const dispose = (): void => {};
  return {
    size: buffer.length,
    buffer,
    head: buffer,
    open: () => Readable.from([buffer], { objectMode: false }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}

function inFile(path: string, size: number, head: Buffer): Spooled {
  const dispose = (): void => rmSync(path, { force: true });
  return {
    size,
    buffer: null,
    head,
    open: () => createReadStream(path, { highWaterMark: 256 * 1024 }),
    dispose,
    [Symbol.dispose]: dispose,
  };
}

/** Reads `source` to its end; rejects with the stream's error (e.g. the server's 552 5.3.4). */
export async function spool(source: AsyncIterable<Buffer>, options: SpoolOptions): Promise<Spooled> {
  const limit = Math.max(options.memoryLimit ?? DEFAULT_MEMORY_LIMIT, HEAD_LIMIT);
  const chunks: Buffer[] = [];
  let size = 0;
  let fd: number | null = null;
  let head = Buffer.alloc(0);
  const path = join(options.dir, `${randomUUID()}.eml`);
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (fd === null && size <= limit) {
        chunks.push(chunk);
        continue;
      }
      if (fd === null) {
        head = Buffer.concat(chunks);
        fd = openSync(path, 'wx', 0o600);
        for (const held of chunks) writeSync(fd, held);
        chunks.length = 0;
      }
      writeSync(fd, chunk);
    }
  } catch (error) {
    if (fd !== null) {
      closeSync(fd);
      rmSync(path, { force: true });
    }
    throw error;
  }
  if (fd === null) return inMemory(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  closeSync(fd);
  return inFile(path, size, head);
}
