// The little that the SQL store needs from a database driver: statements with `?` placeholders,
// transactions on one connection, and the dialect for the few places where SQLite and
// PostgreSQL differ (blob type, row locks).

export type SqlValue = string | number | null | Uint8Array;
export type SqlRow = Record<string, unknown>;

export interface SqlExecutor {
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDriver extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs `fn` in one transaction on one connection; commits when it resolves, else rolls back.
   * `durable: false` skips the flush at commit: for changes whose loss in a crash is harmless
   * (a lease, staged chunks that a later durable commit flushes with it, an outcome: its recipient
   * is delivered again at worst), never for the commit of an enqueue.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: { readonly durable?: boolean }): Promise<T>;
  close(): Promise<void>;
}
