// Destination verification (as Cloudflare Email Routing and ImprovMX do it): a destination
// address receives forwarded mail only once its owner confirmed it through a link mailed to it,
// so a forwarder cannot be pointed at someone's inbox to flood it. Until then, mail for it is
// held in the queue — not refused, not lost — and released on confirmation.
// The store lives where the queue lives: a SQLite file in the data dir, or a table beside the
// queue's in PostgreSQL, so that every forwarder process sharing a queue shares confirmations.

import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';

export type DestinationState = 'verified' | 'pending' | 'unknown';

export interface PendingDestination {
  readonly address: string;
  readonly token: string;
  /** True when this call created the request (send the link), false when one was pending already. */
  readonly created: boolean;
}

export interface DestinationStore {
  state(address: string): Promise<DestinationState>;
  /** Makes `address` pending (a new token) unless it is pending or verified already. */
  request(address: string): Promise<PendingDestination | null>;
  /** Confirms the token's address; null for an unknown token. */
  confirm(token: string): Promise<string | null>;
  /** The address a pending token names, without confirming it. */
  lookup(token: string): Promise<string | null>;
  close(): Promise<void>;
}

const newToken = (): string => randomBytes(24).toString('base64url');
const key = (address: string): string => address.toLowerCase();

export function openSqliteDestinations(path: string, now: () => number = Date.now): DestinationStore {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`CREATE TABLE IF NOT EXISTS destinations (
    address TEXT PRIMARY KEY, token TEXT UNIQUE NOT NULL, verified_at INTEGER, created_at INTEGER NOT NULL)`);
  const get = db.prepare('SELECT token, verified_at FROM destinations WHERE address = ?');
  const insert = db.prepare(
    'INSERT OR IGNORE INTO destinations (address, token, created_at) VALUES (?, ?, ?)',
  );
  const byToken = db.prepare('SELECT address FROM destinations WHERE token = ?');
  const verify = db.prepare('UPDATE destinations SET verified_at = ? WHERE token = ? RETURNING address');
  return {
    async state(address) {
      const row = get.get(key(address)) as { verified_at: number | null } | undefined;
      return row === undefined ? 'unknown' : row.verified_at === null ? 'pending' : 'verified';
    },
    async request(address) {
      const token = newToken();
      const created = insert.run(key(address), token, now()).changes > 0;
      if (created) return { address: key(address), token, created };
      const row = get.get(key(address)) as { token: string; verified_at: number | null };
      return row.verified_at === null ? { address: key(address), token: row.token, created } : null;
    },
    async confirm(token) {
      const row = verify.get(now(), token) as { address: string } | undefined;
      return row?.address ?? null;
    },
    async lookup(token) {
      return (byToken.get(token) as { address: string } | undefined)?.address ?? null;
    },
    close: async () => db.close(),
  };
}

export async function openPostgresDestinations(
  connectionString: string,
  schema: string | null,
): Promise<DestinationStore> {
  const pool = new pg.Pool({ connectionString, max: 2 });
  const table = schema
    ? `"${schema.replace(/"/g, '""')}".mailyard_forwarder_destinations`
    : 'mailyard_forwarder_destinations';
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (
    address text PRIMARY KEY, token text UNIQUE NOT NULL, verified_at bigint, created_at bigint NOT NULL)`);
  const get = async (address: string) =>
    (await pool.query(`SELECT token, verified_at FROM ${table} WHERE address = $1`, [key(address)]))
      .rows[0] as { token: string; verified_at: string | null } | undefined;
  return {
    async state(address) {
      const row = await get(address);
      return row === undefined ? 'unknown' : row.verified_at === null ? 'pending' : 'verified';
    },
    async request(address) {
      const token = newToken();
      const inserted = await pool.query(
        `INSERT INTO ${table} (address, token, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
        [key(address), token, Date.now()],
      );
      if ((inserted.rowCount ?? 0) > 0) return { address: key(address), token, created: true };
      const row = await get(address);
      return row && row.verified_at === null
        ? { address: key(address), token: row.token, created: false }
        : null;
    },
    async confirm(token) {
      const result = await pool.query(
        `UPDATE ${table} SET verified_at = $1 WHERE token = $2 RETURNING address`,
        [Date.now(), token],
      );
      return (result.rows[0] as { address: string } | undefined)?.address ?? null;
    },
    async lookup(token) {
      const result = await pool.query(`SELECT address FROM ${table} WHERE token = $1`, [token]);
      return (result.rows[0] as { address: string } | undefined)?.address ?? null;
    },
    close: () => pool.end(),
  };
}
