// Group commit: writes that arrive together share one transaction and one fsync, and each caller
// resolves only when the batch holding its own write has committed. While one batch commits, the
// next gathers; so the busier the queue, the more each fsync carries.

export interface GroupCommit<T, R = void> {
  /** Resolves once `item` is durable, with its result; rejects if its write failed. */
  add(item: T): Promise<R>;
  /** Resolves when nothing is pending or being written. */
  drain(): Promise<void>;
}

interface Pending<T, R> {
  readonly item: T;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * `write` commits a batch in one transaction and may return one result per item, in order. With
 * `concurrency` 2, a second batch starts while the first is still committing: the store keeps
 * their transactions apart (SQLite serialises them; PostgreSQL runs them on two connections),
 * and the second's body segment is written and flushed meanwhile instead of afterwards.
 */
export function createGroupCommit<T, R = void>(
  write: (batch: readonly T[]) => Promise<unknown>,
  maxBatch = 1000,
  concurrency = 1,
): GroupCommit<T, R> {
  let pending: Pending<T, R>[] = [];
  let writing = 0;
  let scheduled = false;
  let idle: (() => void)[] = [];

  async function writeAlone(entry: Pending<T, R>): Promise<void> {
    try {
      const results = (await write([entry.item])) as readonly R[] | undefined;
      entry.resolve(results?.[0] as R);
    } catch (error) {
      entry.reject(error);
    }
  }

  async function writeBatch(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = (await write(batch.map((entry) => entry.item))) as readonly R[] | undefined;
      batch.forEach((entry, i) => {
        entry.resolve(results?.[i] as R);
      });
    } catch (error) {
      if (batch.length === 1) batch[0]?.reject(error);
      // One bad message must not fail the others: retry each alone to find it.
      else for (const entry of batch) await writeAlone(entry);
    }
  }

  function pump(): void {
    scheduled = false;
    while (pending.length > 0 && writing < concurrency) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      writing++;
      void writeBatch(batch).then(() => {
        writing--;
        if (pending.length > 0) pump();
        else if (writing === 0) {
          const waiting = idle;
          idle = [];
          for (const resolve of waiting) resolve();
        }
      });
    }
  }

  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (!scheduled && writing < concurrency) {
          scheduled = true;
          // Let every write that arrives in this turn of the event loop join the batch.
          setImmediate(pump);
        }
      });
    },
    drain() {
      if (writing === 0 && pending.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
