// The SQLite store: one file in the app's data dir, no other service (node:sqlite, no addon).
// WAL with synchronous=FULL: a commit returns only after the WAL is fsynced, so a committed
// message survives power loss; many messages share that one fsync through group commit.
// SQLite has one writer and DatabaseSync is synchronous, so the store serialises transactions
// here instead of leaning on busy timeouts. One process owns the file.
// Bodies above 16 KiB live in append-only segment files in `<path>-bodies/` (see body-segments.ts):
// through the WAL they were written twice, page by page (about 80 writes and 27 reads per 100 KB
// message, counted with strace), and the checkpoints stalled the commits.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type BodySegments, openBodySegments } from './body-segments.ts';
import { storeClosedError } from './errors.ts';
import type { QueueLogger } from './events.ts';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './sql-driver.ts';
import { createSqlStore } from './sql-store.ts';
import type { QueueStore } from './store.ts';
import type { ThreadRestartOptions } from './thread-restarts.ts';
import { openThreadedSqliteStore } from './threaded-sqlite-store.ts';

export interface SqliteStoreOptions {
  /** The database file, e.g. `<dataDir>/queue.db`. */
  readonly path: string;
  /**
   * Caps the queue's size on disk, database and body segments together (a quota): writes beyond
   * it fail as "disk full" (452 4.3.1).
   */
  readonly maxDatabaseBytes?: number;
  /**
   * Runs the store in a worker thread (see threaded-sqlite-store.ts), so its synchronous SQLite
   * calls and fsyncs do not block the caller's event loop. Default false.
   */
  readonly thread?: boolean;
  /**
   * With `thread`: how a thread that died is replaced (see thread-restarts.ts). Default: up to 5
   * restarts a minute, 100 ms apart and doubling; `{ maxRestarts: 0 }` never restarts.
   */
  readonly restart?: ThreadRestartOptions;
  /** With `thread`: told when the thread dies, is restarted, or is given up on. */
  readonly logger?: QueueLogger;
}

export interface SqliteStore extends QueueStore {
  readonly kind: 'sqlite';
  [Symbol.asyncDispose](): Promise<void>;
}

interface SqliteDriver extends SqlDriver {
  /** Bytes the database file takes now (pages in use and free). */
  databaseBytes(): number;
}

function createSqliteDriver(options: SqliteStoreOptions): SqliteDriver {
  const db = new DatabaseSync(options.path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA busy_timeout = 5000');
  if (options.maxDatabaseBytes !== undefined) {
    const pageSize = Number((db.prepare('PRAGMA page_size').get() as SqlRow).page_size);
    db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(options.maxDatabaseBytes / pageSize))}`);
  }
  const statements = new Map<string, StatementSync>();
  const prepare = (sql: string): StatementSync => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  const executor: SqlExecutor = {
    async all(sql, params = []) {
      return prepare(sql).all(...(params as SqlValue[])) as SqlRow[];
    },
    async run(sql, params = []) {
      return Number(prepare(sql).run(...(params as SqlValue[])).changes);
    },
  };
  // A chain of promises is the lock: a transaction's awaits must not interleave with another's.
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(() => {
      if (closed) throw storeClosedError();
      return fn();
    });
    tail = run.catch(() => undefined);
    return run;
  }
  return {
    dialect: 'sqlite',
    databaseBytes() {
      if (closed) return 0;
      const row = prepare(
        'SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()',
      ).get();
      return Number((row as SqlRow).n);
    },
    all: (sql, params) => exclusive(() => executor.all(sql, params)),
    run: (sql, params) => exclusive(() => executor.run(sql, params)),
    transaction: (fn, options) =>
      exclusive(async () => {
        // In WAL mode, NORMAL commits without an fsync; the next FULL commit's fsync of the
        // WAL covers these frames too, as they come before it in the same file.
        const relaxed = options?.durable === false;
        if (relaxed) db.exec('PRAGMA synchronous = NORMAL');
        try {
          db.exec('BEGIN IMMEDIATE');
          try {
            const result = await fn(executor);
            db.exec('COMMIT');
            return result;
          } catch (error) {
            if (db.isTransaction) db.exec('ROLLBACK');
            throw error;
          }
        } finally {
          if (relaxed) db.exec('PRAGMA synchronous = FULL');
        }
      }),
    close: () =>
      exclusive(async () => {
        closed = true;
        db.close();
      }),
  };
}

/** Opens (and creates) the SQLite queue store at `path`. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  if (options.thread) return openThreadedSqliteStore(options);
  const driver = createSqliteDriver(options);
  let segments: BodySegments | undefined;
  try {
    const max = options.maxDatabaseBytes;
    segments = await openBodySegments({
      dir: `${options.path}-bodies`,
      ...(max === undefined ? {} : { room: () => max - driver.databaseBytes() }),
    });
    const store = await createSqlStore(driver, { segments });
    const bodies = segments;
    const close = async (): Promise<void> => {
      try {
        await store.close();
      } finally {
        await bodies.close();
      }
    };
    return { ...store, kind: 'sqlite', close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await driver.close();
    await segments?.close();
    throw error;
  }
}
