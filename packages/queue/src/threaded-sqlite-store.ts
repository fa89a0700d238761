// The SQLite store run in a worker thread: the same store (sqlite-store.ts, body segments, every
// commit fsynced as before), proxied call by call. node:sqlite is synchronous: in the app's thread
// each transaction's statements, its WAL fsync and the file-lock calls around it block the event
// loop (measured in the relay: the store's transaction was the largest item of its CPU profile,
// about 410 µs a message). Here they block the store's own thread while SMTP goes on.
// A thread that dies fails every call waiting on it and every later one with 451 4.3.0: the
// caller answers its client "try again later", never hangs; nothing acknowledged is lost, as each
// commit was durable before its reply was sent.

import { Worker } from 'node:worker_threads';
import { storageError, storeClosedError } from './errors.ts';
import type { SqliteStore, SqliteStoreOptions } from './sqlite-store.ts';
import type { ThreadData } from './sqlite-thread.ts';
import type { LeasedGroup, QueueStore } from './store.ts';
import { answerSlots, fromWireError, packChunks, type Reply, slotChannel } from './store-thread-wire.ts';

// From source (type stripping) the entry is the .ts beside this file; from dist, the .js.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ENTRY = new URL(`./sqlite-thread${EXTENSION}`, import.meta.url);
/** Next hops whose slots a lease sends up front, most recently leased first; others are asked. */
const KNOWN_HOPS = 256;

/** The worker thread of a threaded store: for tests that kill it. */
export const storeThread: unique symbol = Symbol('mailyard.queue.storeThread');

export interface ThreadedSqliteStore extends SqliteStore {
  readonly [storeThread]: Worker;
}

interface Call {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly slotsFor?: ((hop: string) => number) | undefined;
}

/**
 * The worker resolves workspace packages the way this process does: from source when we run from
 * it. A thread inherits the process's flags (those a thread cannot take are left out); only when
 * the source condition is missing (a test runner's own loader) do we name it — alone, as an
 * explicit list may hold no per-process flag.
 */
function workerExecArgv(): string[] | undefined {
  if (EXTENSION !== '.ts') return undefined;
  return /(^| )(--conditions[= ]|-C ?)source( |$)/.test(process.execArgv.join(' '))
    ? undefined
    : ['--conditions=source'];
}

/** Opens (and creates) the SQLite queue store at `path`, run in a worker thread of its own. */
export async function openThreadedSqliteStore(options: SqliteStoreOptions): Promise<ThreadedSqliteStore> {
  const shared = new SharedArrayBuffer(16);
  const channel = slotChannel(shared);
  const data: ThreadData = { options: { ...options, thread: false }, slots: shared };
  const execArgv = workerExecArgv();
  const worker = new Worker(ENTRY, {
    workerData: data,
    name: 'mailyard-queue-sqlite',
    ...(execArgv ? { execArgv } : {}),
  });
  const calls = new Map<number, Call>();
  let nextId = 1;
  /** Set once the thread died: every call from then on fails with it. */
  let failure: Error | undefined;
  let closed = false;
  let drained: (() => void)[] = [];
  let opened: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    opened = { resolve, reject };
  });

  function settle(id: number): Call | undefined {
    const call = calls.get(id);
    if (!call) return undefined;
    calls.delete(id);
    if (calls.size === 0) {
      // An idle store must not keep the process alive (the in-thread one does not).
      worker.unref();
      const waiting = drained;
      drained = [];
      for (const resolve of waiting) resolve();
    }
    return call;
  }

  function fail(cause: unknown): void {
    if (failure) return;
    failure = storageError(cause);
    opened?.reject(failure);
    for (const id of [...calls.keys()]) settle(id)?.reject(failure);
  }

  worker.on('message', (message: Reply) => {
    if (message.kind === 'reply') {
      const call = settle(message.id);
      if (message.ok) call?.resolve(message.value);
      else call?.reject(fromWireError(message.error));
    } else if (message.kind === 'slots') {
      let slots = 0;
      try {
        slots = calls.get(message.id)?.slotsFor?.(message.hop) ?? 0;
      } catch {
        // A broken limit leases nothing for that hop rather than everything.
      }
      answerSlots(channel, message.seq, slots);
    } else if (message.ok) {
      opened?.resolve();
    } else {
      opened?.reject(fromWireError(message.error));
    }
  });
  worker.on('error', fail);
  worker.on('messageerror', fail);
  worker.on('exit', (code) => fail(new Error(`queue store thread exited with code ${code}`)));

  try {
    await ready;
  } catch (error) {
    await worker.terminate();
    throw error;
  }
  opened = undefined;
  worker.unref();

  function send<T>(
    op: string,
    args: readonly unknown[],
    transfer: ArrayBuffer[] = [],
    slotsFor?: (hop: string) => number,
  ): Promise<T> {
    if (failure) return Promise.reject(failure);
    return new Promise<T>((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve: resolve as (value: unknown) => void, reject, slotsFor });
      if (calls.size === 1) worker.ref();
      try {
        worker.postMessage({ id, op, args }, transfer);
      } catch (error) {
        settle(id);
        reject(storageError(error));
      }
    });
  }

  function call<T>(op: string, ...args: unknown[]): Promise<T> {
    if (closed) return Promise.reject(storeClosedError());
    return send<T>(op, args);
  }

  const hops = new Map<string, true>();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      // Calls made before close finish first, as they would in the app's thread.
      if (calls.size > 0) await new Promise<void>((resolve) => drained.push(resolve));
      try {
        if (!failure) await send('close', []);
      } finally {
        await worker.terminate();
      }
    })();
    return closing;
  };

  const store: QueueStore = {
    kind: 'sqlite',
    stageChunk(messageId, seq, parts, now) {
      if (closed) return Promise.reject(storeClosedError());
      // A copy: the caller's buffer stays theirs (transferring it would empty it under them).
      const { buffer } = packChunks([parts]);
      return send('stageChunk', [messageId, seq, buffer, now], [buffer]);
    },
    discardStaged: (messageId) => call('discardStaged', messageId),
    commit(batch) {
      if (closed) return Promise.reject(storeClosedError());
      const { buffer, spans } = packChunks(batch.flatMap((m) => m.inlineChunks.map((c) => c.parts)));
      let at = 0;
      const wire = batch.map((m) => ({
        ...m,
        inlineChunks: m.inlineChunks.map((c) => ({ seq: c.seq, span: spans[at++] })),
      }));
      return send('commit', [wire, buffer], [buffer]);
    },
    async lease(query) {
      if (closed) throw storeClosedError();
      const { slotsFor, ...rest } = query;
      const slots: [string, number][] = [];
      for (const hop of hops.keys()) slots.push([hop, slotsFor(hop)]);
      const groups = await send<LeasedGroup[]>('lease', [{ ...rest, slots }], [], slotsFor);
      for (const group of groups) {
        hops.delete(group.nextHop);
        hops.set(group.nextHop, true);
      }
      for (const hop of hops.keys()) {
        if (hops.size <= KNOWN_HOPS) break;
        hops.delete(hop);
      }
      return groups;
    },
    release: (owner, messageId, idxs, now) => call('release', owner, messageId, idxs, now),
    complete: (groups, now) => call('complete', groups, now),
    claimNotices: (now, until, limit, messageId) => call('claimNotices', now, until, limit, messageId),
    clearNotices: (messageId, idxs) => call('clearNotices', messageId, idxs),
    readChunk: (messageId, seq) => call('readChunk', messageId, seq),
    getMessage: (messageId) => call('getMessage', messageId),
    listMessages: (query) => call('listMessages', query),
    recipients: (messageIds) => call('recipients', messageIds),
    attempts: (messageId) => call('attempts', messageId),
    change: (change) => call('change', change),
    deleteMessage: (messageId) => call('deleteMessage', messageId),
    counts: () => call('counts'),
    cleanOrphans: (stagedBefore) => call('cleanOrphans', stagedBefore),
    close,
  };
  return { ...store, kind: 'sqlite', [Symbol.asyncDispose]: close, [storeThread]: worker };
}
