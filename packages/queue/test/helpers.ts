// Test helpers for the queue: envelopes, a settable clock, stores to run the contract against,
// and a courier that records what it was asked to deliver (the app's role, played by the test).

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  type Courier,
  type DeliveryRequest,
  type Envelope,
  type Outcome,
  parseAddress,
} from '@mailyard/smtp';
import type { TestPostgres } from '@mailyard/testkit';
import pg from 'pg';
import { openPostgresStore, openSqliteStore, type QueueStore } from '../src/index.ts';

export function envelope(mailFrom: string | null, rcpts: readonly string[], notify?: 'NEVER'): Envelope {
  return {
    mailFrom: mailFrom === null ? null : parseAddress(mailFrom),
    rcptTo: rcpts.map((r) => ({ address: parseAddress(r), ...(notify ? { notify } : {}) })),
    params: {},
  };
}

export interface ManualClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(start = Date.UTC(2026, 10, 1)): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

export async function sha256(stream: Readable | AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}

export const sha256Of = (data: Uint8Array | string): string =>
  createHash('sha256').update(data).digest('hex');

export type DisposableStore = QueueStore & {
  [Symbol.asyncDispose](): Promise<void>;
  reopen(): Promise<DisposableStore>;
};

export type StoreFactory = () => Promise<DisposableStore>;

/** SQLite stores in `dir`; `thread` runs each in a worker thread (openSqliteStore's `thread`). */
export function sqliteStores(dir: () => string, thread = false): StoreFactory {
  let n = 0;
  return async () => {
    const path = `${dir()}/queue-${n++}.db`;
    const open = async (): Promise<DisposableStore> => {
      const store = await openSqliteStore({ path, thread });
      return { ...store, reopen: open };
    };
    return open();
  };
}

/** Each store gets a schema of its own inside the test file's schema's database. */
export function postgresStores(db: () => TestPostgres): StoreFactory {
  let n = 0;
  return async () => {
    const schema = `${db().schema}_${n++}`;
    await db().query(`CREATE SCHEMA "${schema}"`);
    const open = async (): Promise<DisposableStore> => {
      const store = await openPostgresStore({ connectionString: db().url, schema, maxConnections: 4 });
      return {
        ...store,
        reopen: open,
        async [Symbol.asyncDispose]() {
          await store.close();
          await db().query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        },
      };
    };
    return open();
  };
}

/** Drops schemas a PostgreSQL test created under its file's schema prefix. */
export async function dropSchemas(url: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
      [`${prefix}_%`],
    );
    for (const { nspname } of rows) await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}

export interface RecordingCourier extends Courier {
  readonly requests: DeliveryRequest[];
  readonly bodies: string[];
}

/** Answers each recipient with `decide(rcpt)`, recording requests and the bodies it read. */
export function recordingCourier(
  decide: (rcpt: string, request: DeliveryRequest) => Outcome,
): RecordingCourier {
  const requests: DeliveryRequest[] = [];
  const bodies: string[] = [];
  return {
    requests,
    bodies,
    async deliver(request) {
      requests.push(request);
      bodies.push(await sha256(request.openMessage()));
      return request.envelope.rcptTo.map((r) => {
        const rcpt = `${r.address.localPart}@${r.address.domain}`;
        return decide(rcpt, request);
      });
    },
  };
}

export const delivered = (rcpt: string): Outcome => ({ rcpt, status: 'delivered', reply: '250 2.0.0 OK' });
