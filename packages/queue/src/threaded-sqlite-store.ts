// The SQLite store run in a worker thread: the same store (sqlite-store.ts, body segments, every
// commit fsynced as before), proxied call by call. node:sqlite is synchronous: in the app's thread
// each transaction's statements, its WAL fsync and the file-lock calls around it block the event
// loop (measured in the relay: the store's transaction was the largest item of its CPU profile,
// about 410 µs a message). Here they block the store's own thread while SMTP goes on.
// A thread that dies fails every call waiting on it with 451 4.3.0: the caller answers its client
// "try again later", never hangs; nothing acknowledged is lost, as each commit was durable before
// its reply was sent. Then a new thread opens the same file (SQLite rolls back what the dead one
// left half done, the WAL keeps what it committed) and later calls wait for it and go to it —
// unless threads die too often (thread-restarts.ts): then the store stays failed and says so.

import { Worker } from 'node:worker_threads';
import { SmtpError } from '@mailyard/smtp';
import { storageError, storeClosedError } from './errors.ts';
import type { QueueLogger } from './events.ts';
import type { SqliteStore, SqliteStoreOptions } from './sqlite-store.ts';
import type { ThreadData } from './sqlite-thread.ts';
import type { LeasedGroup, QueueStore } from './store.ts';
import { answerSlots, fromWireError, packChunks, type Reply, slotChannel } from './store-thread-wire.ts';
import { createThreadRestarts } from './thread-restarts.ts';

// From source (type stripping) the entry is the .ts beside this file; from dist, the .js.
const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ENTRY = new URL(`./sqlite-thread${EXTENSION}`, import.meta.url);
/** Next hops whose slots a lease sends up front, most recently leased first; others are asked. */
const KNOWN_HOPS = 256;

/** The worker thread of a threaded store (the newest, after a restart): for tests that kill it. */
export const storeThread: unique symbol = Symbol('mailyard.queue.storeThread');

export interface ThreadedSqliteStore extends SqliteStore {
  readonly [storeThread]: Worker;
}

interface Call {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly slotsFor?: ((hop: string) => number) | undefined;
}

/** One worker thread running the store, and the calls sent to it. */
interface StoreThread {
  readonly worker: Worker;
  /** Resolves once its store is open; rejects with why not. */
  readonly opened: Promise<void>;
  /** Resolves once the thread has exited. */
  readonly exited: Promise<void>;
  /** Whether it failed: its calls were rejected, and it takes no more. */
  readonly dead: boolean;
  send<T>(
    op: string,
    args: readonly unknown[],
    transfer?: ArrayBuffer[],
    slotsFor?: Call['slotsFor'],
  ): Promise<T>;
  /** Resolves when no call is waiting on it. */
  idle(): Promise<void>;
}

const silent: QueueLogger = { info() {}, warn() {}, error() {} };

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

/** Starts a thread on the store; `died` hears, once, the first sign that it failed. */
function startThread(options: SqliteStoreOptions, died: (cause: Error) => void): StoreThread {
  const shared = new SharedArrayBuffer(16);
  const channel = slotChannel(shared);
  const data: ThreadData = { options, slots: shared };
  const execArgv = workerExecArgv();
  const worker = new Worker(ENTRY, {
    workerData: data,
    name: 'mailyard-queue-sqlite',
    ...(execArgv ? { execArgv } : {}),
  });
  const calls = new Map<number, Call>();
  let nextId = 1;
  let failure: SmtpError | undefined;
  let drained: (() => void)[] = [];
  let opening: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    opening = { resolve, reject };
  });
  // Nobody awaits a successor's open that close() cut short.
  opened.catch(() => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

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
    opening?.reject(failure);
    opening = undefined;
    for (const id of [...calls.keys()]) settle(id)?.reject(failure);
    died(cause instanceof Error ? cause : failure);
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
      if (calls.size === 0) worker.unref();
      opening?.resolve();
      opening = undefined;
    } else {
      // The opener sees the store's own error (its code), not a 451 made of it.
      const error = fromWireError(message.error);
      opening?.reject(error);
      opening = undefined;
      fail(error);
    }
  });
  worker.on('error', fail);
  worker.on('messageerror', (error) => {
    fail(error);
    // The thread itself lives on: end it, so that a successor never shares the file with it.
    void worker.terminate();
  });
  worker.on('exit', (code) => fail(new Error(`queue store thread exited with code ${code}`)));

  return {
    worker,
    opened,
    exited,
    get dead() {
      return failure !== undefined;
    },
    send<T>(op: string, args: readonly unknown[], transfer: ArrayBuffer[] = [], slotsFor?: Call['slotsFor']) {
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
    },
    idle() {
      if (calls.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drained.push(resolve));
    },
  };
}

/** Opens (and creates) the SQLite queue store at `path`, run in a worker thread of its own. */
export async function openThreadedSqliteStore(options: SqliteStoreOptions): Promise<ThreadedSqliteStore> {
  // What the thread gets must be cloneable: no logger.
  const { thread: _thread, restart, logger: given, ...rest } = options;
  const threadOptions: SqliteStoreOptions = { ...rest, thread: false };
  const logger = given ?? silent;
  const restarts = createThreadRestarts(restart);
  let closed = false;
  /** Whether the first thread opened: until then a death is the open's failure, not a restart. */
  let serving = false;
  /** The thread calls go to; none while a successor starts, or once restarts were given up. */
  let live: StoreThread | undefined;
  /** Set once restarts were given up: every call from then on fails with it. */
  let failure: SmtpError | undefined;
  /** Calls made while no thread is live, for the next one. */
  let waiting: { resolve: (thread: StoreThread) => void; reject: (error: unknown) => void }[] = [];
  let restartTimer: NodeJS.Timeout | undefined;

  const launch = (): StoreThread => {
    const thread: StoreThread = startThread(threadOptions, (cause) => died(thread, cause));
    return thread;
  };
  /** The newest thread started: the live one, or the one starting or dead in its place. */
  let newest = launch();

  function failWaiting(error: unknown): void {
    const calls = waiting;
    waiting = [];
    for (const call of calls) call.reject(error);
  }

  function died(thread: StoreThread, cause: Error): void {
    // An older thread was replaced after its own death; a death before the first open is the
    // open's failure, and one after close is the close.
    if (thread !== newest || !serving || closed) return;
    live = undefined;
    const delayMs = restarts.next(performance.now());
    if (delayMs === undefined) {
      const recent = restarts.recent;
      failure = new SmtpError(451, '4.3.0', 'Queue store is out of service, try again later', {
        cause: new Error(`queue store thread died after ${recent} restarts in a short time; not restarted`, {
          cause,
        }),
      });
      logger.error({ err: cause, restarts: recent }, 'queue store: thread keeps dying, giving up');
      failWaiting(failure);
      return;
    }
    logger.warn(
      { err: cause, restarts: restarts.recent, delayMs },
      'queue store: thread died, starting a new one',
    );
    // Not before it is gone: two threads must never write the file at once.
    void thread.exited.then(() => {
      if (!closed) restartTimer = setTimeout(() => void restartNow(), delayMs);
    });
  }

  async function restartNow(): Promise<void> {
    restartTimer = undefined;
    const thread = launch();
    newest = thread;
    try {
      await thread.opened;
    } catch {
      return; // `died` has heard of it and counts it as another death
    }
    if (closed || thread.dead) return;
    live = thread;
    logger.info({ restarts: restarts.recent }, 'queue store: thread restarted');
    const calls = waiting;
    waiting = [];
    for (const call of calls) call.resolve(thread);
  }

  try {
    await newest.opened;
  } catch (error) {
    await newest.worker.terminate();
    throw error;
  }
  serving = true;
  live = newest;

  /** Runs `use` on the live thread, or on the next one once it has started. */
  function onThread<T>(use: (thread: StoreThread) => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(storeClosedError());
    if (failure) return Promise.reject(failure);
    if (live) return use(live);
    return new Promise<StoreThread>((resolve, reject) => waiting.push({ resolve, reject })).then(use);
  }

  function call<T>(op: string, ...args: unknown[]): Promise<T> {
    return onThread((thread) => thread.send<T>(op, args));
  }

  const hops = new Map<string, true>();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      clearTimeout(restartTimer);
      // Calls waiting for a successor never started: no thread will take them now.
      failWaiting(storeClosedError());
      const thread = live;
      if (newest !== thread) await newest.worker.terminate();
      if (!thread) return;
      // Calls made before close finish first, as they would in the app's thread.
      await thread.idle();
      try {
        if (!thread.dead) await thread.send('close', []);
      } finally {
        await thread.worker.terminate();
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
      return onThread((thread) => thread.send('stageChunk', [messageId, seq, buffer, now], [buffer]));
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
      return onThread((thread) => thread.send('commit', [wire, buffer], [buffer]));
    },
    async lease(query) {
      if (closed) throw storeClosedError();
      const { slotsFor, ...rest } = query;
      const slots: [string, number][] = [];
      for (const hop of hops.keys()) slots.push([hop, slotsFor(hop)]);
      const groups = await onThread((thread) =>
        thread.send<LeasedGroup[]>('lease', [{ ...rest, slots }], [], slotsFor),
      );
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
    renew: (groups, leaseUntil, now) => call('renew', groups, leaseUntil, now),
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
  return {
    ...store,
    kind: 'sqlite',
    [Symbol.asyncDispose]: close,
    get [storeThread]() {
      return newest.worker;
    },
  };
}
