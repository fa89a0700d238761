// The worker thread of the threaded SQLite store: it runs the SQLite store (sqlite-store.ts, with
// its body segments) unchanged and answers the main thread's calls by id. node:sqlite is
// synchronous, so here its statements, WAL fsyncs and file locks block this thread, not the
// event loop that speaks SMTP. Requests run as they arrive, as calls on the in-thread store do;
// the store serialises its transactions itself.

import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
import type { LeaseQuery, NewMessage, QueueStore } from './store.ts';
import {
  outgoing,
  type PackedSpan,
  type Reply,
  type Request,
  slotChannel,
  toWireError,
  unpackChunk,
} from './store-thread-wire.ts';

export interface ThreadData {
  readonly options: SqliteStoreOptions;
  readonly slots: SharedArrayBuffer;
}

/** How long a lease waits for the main thread's answer before it leaves that next hop alone. */
const SLOT_WAIT_MS = 5000;

const port = parentPort;
if (!port) throw new Error('sqlite-thread.ts runs as a worker thread');
const data = workerData as ThreadData;
const channel = slotChannel(data.slots);
let slotSeq = 0;

function post(reply: Reply, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(reply, transfer);
}

/** A reply that cannot be sent fails its call, not the thread and every call with it. */
function reply(id: number, value: unknown, transfer: ArrayBuffer[]): void {
  try {
    post({ kind: 'reply', id, ok: true, value }, transfer);
  } catch (error) {
    post({ kind: 'reply', id, ok: false, error: toWireError(error) });
  }
}

/** Asks the main thread for `slotsFor(hop)` of lease `id`, blocking this thread until it answers. */
function askSlots(id: number, hop: string): number {
  const seq = ++slotSeq;
  post({ kind: 'slots', id, hop, seq });
  const deadline = Date.now() + SLOT_WAIT_MS;
  for (;;) {
    const seen = Atomics.load(channel.state, 1);
    if (seen === seq) return channel.value[0] ?? 0;
    const left = deadline - Date.now();
    if (left <= 0) return 0;
    Atomics.wait(channel.state, 1, seen, left);
  }
}

type LeaseArgs = Omit<LeaseQuery, 'slotsFor'> & { readonly slots: readonly [string, number][] };
type WireMessage = Omit<NewMessage, 'inlineChunks'> & {
  readonly inlineChunks: readonly { readonly seq: number; readonly span: PackedSpan }[];
};

type Op = (
  store: QueueStore,
  args: readonly unknown[],
  id: number,
  transfer: ArrayBuffer[],
) => Promise<unknown>;

/**
 * Frees a body buffer from the main thread as soon as its write is done. Left to the collector,
 * a 50 MB message's chunks piled up in this thread, whose small heap is seldom collected.
 */
async function thenFree(buffer: ArrayBuffer, work: Promise<void>): Promise<void> {
  try {
    await work;
  } finally {
    // Detaching releases the memory now; nothing holds a view once the store's call is over.
    buffer.transfer(0);
  }
}

const ops: Record<string, Op> = {
  stageChunk: (s, [messageId, seq, buffer, now]) =>
    thenFree(
      buffer as ArrayBuffer,
      s.stageChunk(
        messageId as string,
        seq as number,
        unpackChunk(buffer as ArrayBuffer, { at: 0, length: (buffer as ArrayBuffer).byteLength }),
        now as number,
      ),
    ),
  discardStaged: (s, [messageId]) => s.discardStaged(messageId as string),
  commit: (s, [batch, buffer]) =>
    thenFree(
      buffer as ArrayBuffer,
      s.commit(
        (batch as WireMessage[]).map((m) => ({
          ...m,
          inlineChunks: m.inlineChunks.map((c) => ({
            seq: c.seq,
            parts: unpackChunk(buffer as ArrayBuffer, c.span),
          })),
        })),
      ),
    ),
  async lease(s, [query], id, transfer) {
    const { slots, ...rest } = query as LeaseArgs;
    // Next hops the caller named up front; any other is asked once, mid-transaction.
    const known = new Map(slots);
    const groups = await s.lease({
      ...rest,
      slotsFor(hop) {
        let n = known.get(hop);
        if (n === undefined) {
          n = askSlots(id, hop);
          known.set(hop, n);
        }
        return n;
      },
    });
    return groups.map((g) => (g.body ? { ...g, body: outgoing(g.body, transfer) } : g));
  },
  renew: (s, [groups, leaseUntil, now]) =>
    s.renew(groups as Parameters<QueueStore['renew']>[0], leaseUntil as number, now as number),
  release: (s, [owner, messageId, idxs, now]) =>
    s.release(owner as string, messageId as string, idxs as number[], now as number),
  complete: (s, [groups, now]) => s.complete(groups as Parameters<QueueStore['complete']>[0], now as number),
  claimNotices: (s, [now, until, limit, messageId]) =>
    s.claimNotices(now as number, until as number, limit as number, messageId as string | undefined),
  clearNotices: (s, [messageId, idxs]) => s.clearNotices(messageId as string, idxs as number[]),
  async readChunk(s, [messageId, seq], _id, transfer) {
    const bytes = await s.readChunk(messageId as string, seq as number);
    return bytes && outgoing(bytes, transfer);
  },
  getMessage: (s, [messageId]) => s.getMessage(messageId as string),
  listMessages: (s, [query]) => s.listMessages(query as Parameters<QueueStore['listMessages']>[0]),
  recipients: (s, [messageIds]) => s.recipients(messageIds as string[]),
  attempts: (s, [messageId]) => s.attempts(messageId as string),
  change: (s, [change]) => s.change(change as Parameters<QueueStore['change']>[0]),
  deleteMessage: (s, [messageId]) => s.deleteMessage(messageId as string),
  counts: (s) => s.counts(),
  cleanOrphans: (s, [stagedBefore]) => s.cleanOrphans(stagedBefore as number),
  close: (s) => s.close(),
};

let store: QueueStore;
try {
  store = await openSqliteStore(data.options);
} catch (error) {
  post({ kind: 'opened', ok: false, error: toWireError(error) });
  process.exit(0);
}

port.on('message', (request: Request) => {
  const transfer: ArrayBuffer[] = [];
  const op = ops[request.op];
  let run: Promise<unknown>;
  try {
    run = op
      ? op(store, request.args, request.id, transfer)
      : Promise.reject(new Error(`no op ${request.op}`));
  } catch (error) {
    run = Promise.reject(error);
  }
  run.then(
    (value) => reply(request.id, value, transfer),
    (error: unknown) => post({ kind: 'reply', id: request.id, ok: false, error: toWireError(error) }),
  );
});
post({ kind: 'opened', ok: true });
