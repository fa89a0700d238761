// The ledger of "delayed" DSNs already sent, so each message gets at most one (RFC 3461 §4.1
// NOTIFY=DELAY asks for a notice, not one per scan). It lives where the queue lives: a SQLite
// file in the data dir for a SQLite queue, a table next to the queue's for PostgreSQL, so that
// several processes sharing one queue also share the ledger (a claim is one INSERT that
// only one process can win).

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

export interface DelayLedger {
  /** True if this caller is the first to claim the notice for `queueId`. */
  claim(queueId: string, at: number): Promise<boolean>;
  /** Gives a claim back (the notice could not be queued). */
  unclaim(queueId: string): Promise<void>;
  /** Forgets claims older than `before` (their messages are gone). */
  prune(before: number): Promise<void>;
  close(): Promise<void>;
}

export function openSqliteDelayLedger(path: string): DelayLedger {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS delay_notices (queue_id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  const claim = db.prepare('INSERT OR IGNORE INTO delay_notices (queue_id, at) VALUES (?, ?)');
  const unclaim = db.prepare('DELETE FROM delay_notices WHERE queue_id = ?');
  const prune = db.prepare('DELETE FROM delay_notices WHERE at < ?');
  return {
    claim: async (queueId, at) => claim.run(queueId, at).changes > 0,
    unclaim: async (queueId) => {
      unclaim.run(queueId);
    },
    prune: async (before) => {
      prune.run(before);
    },
    close: async () => db.close(),
  };
}

export async function openPostgresDelayLedger(
  connectionString: string,
  schema: string | null,
): Promise<DelayLedger> {
  const pool = new pg.Pool({ connectionString, max: 2 });
  // The name from when only the relay had a ledger: existing databases keep their claims.
  const table = schema
    ? `"${schema.replace(/"/g, '""')}".mailyard_relay_delay_notices`
    : 'mailyard_relay_delay_notices';
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (queue_id text PRIMARY KEY, at bigint NOT NULL)`);
  return {
    async claim(queueId, at) {
      const result = await pool.query(
        `INSERT INTO ${table} (queue_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
        [queueId, at],
      );
      return (result.rowCount ?? 0) > 0;
    },
    async unclaim(queueId) {
      await pool.query(`DELETE FROM ${table} WHERE queue_id = $1`, [queueId]);
    },
    async prune(before) {
      await pool.query(`DELETE FROM ${table} WHERE at < $1`, [before]);
    },
    close: () => pool.end(),
  };
}

/** The ledger next to the queue a configuration names (see openQueueStore). */
export async function openDelayLedger(location: {
  readonly url: string | null;
  readonly schema: string | null;
  readonly dataDir: string;
}): Promise<DelayLedger> {
  return location.url
    ? openPostgresDelayLedger(location.url, location.schema)
    : openSqliteDelayLedger(join(location.dataDir, 'delay-notices.db'));
}
