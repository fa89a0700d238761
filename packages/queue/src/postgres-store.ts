// The PostgreSQL store: several processes on several machines share one database. Leases use
// SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint recipients; commits wait for
// the WAL flush (synchronous_commit), so an enqueue resolves only once the message is durable.

import pg from 'pg';
import { storeClosedError } from './errors.ts';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './sql-driver.ts';
import { createSqlStore } from './sql-store.ts';
import type { QueueStore } from './store.ts';

export interface PostgresStoreOptions {
  /** e.g. `postgres://user@host:5432/db`. */
  readonly connectionString: string;
  /** Schema for the queue's tables (it must exist); default: the connection's search_path. */
  readonly schema?: string;
  /** Pool size. Default 10. */
  readonly maxConnections?: number;
}

export interface PostgresStore extends QueueStore {
  readonly kind: 'postgres';
  [Symbol.asyncDispose](): Promise<void>;
}

const INT8 = 20;

/** `?` placeholders become `$1…$n` (no SQL in this package has a literal question mark). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function createPostgresDriver(options: PostgresStoreOptions): SqlDriver {
  if (options.schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.schema)) {
    throw new TypeError(`invalid PostgreSQL schema name: ${options.schema}`);
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
    // Times are epoch milliseconds in BIGINT; they fit a JavaScript number exactly.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const texts = new Map<string, string>();
  const text = (sql: string): string => {
    let converted = texts.get(sql);
    if (converted === undefined) {
      converted = numbered(sql);
      if (texts.size < 2000) texts.set(sql, converted);
    }
    return converted;
  };
  const on = (client: pg.Pool | pg.PoolClient): SqlExecutor => ({
    async all(sql, params = []) {
      return (await client.query(text(sql), params as SqlValue[])).rows as SqlRow[];
    },
    async run(sql, params = []) {
      return (await client.query(text(sql), params as SqlValue[])).rowCount ?? 0;
    },
  });
  const direct = on(pool);
  let closed = false;
  const open = (): void => {
    if (closed) throw storeClosedError();
  };
  return {
    dialect: 'postgres',
    all: async (sql, params) => {
      open();
      return direct.all(sql, params);
    },
    run: async (sql, params) => {
      open();
      return direct.run(sql, params);
    },
    async transaction(fn, options) {
      open();
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        // An asynchronous commit: a crash may lose it, never corrupt; a later synchronous commit
        // flushes the WAL up to itself, these records included.
        if (options?.durable === false) await client.query('SET LOCAL synchronous_commit = off');
        const result = await fn(on(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** Opens the PostgreSQL queue store, creating its tables if needed. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const driver = createPostgresDriver(options);
  try {
    const store = await createSqlStore(driver);
    return { ...store, kind: 'postgres', [Symbol.asyncDispose]: () => store.close() };
  } catch (error) {
    await driver.close();
    throw error;
  }
}
