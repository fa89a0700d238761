// The store an app's configuration names: PostgreSQL when a `postgres://` URL is given (several
// processes on several machines share it), otherwise SQLite in `<dataDir>/queue.db`, the data dir
// created owner-only (the queue holds message bodies). One place, so the relay, the forwarder and
// `mailyard queue` open the same store from the same settings.
// SQLite runs in a worker thread by default: its synchronous statements and WAL fsyncs would
// otherwise block the app's event loop for every commit (bench/relay, one connection per message:
// about twice the messages per second with the thread, at less CPU per message).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { QueueLogger } from './events.ts';
import { openPostgresStore } from './postgres-store.ts';
import { openSqliteStore } from './sqlite-store.ts';
import type { QueueStore } from './store.ts';

export interface QueueStoreLocation {
  /** `postgres://…`, or null for SQLite in `dataDir`. */
  readonly url: string | null;
  /** The PostgreSQL schema (must exist); null for the connection's search path. */
  readonly schema: string | null;
  readonly dataDir: string;
  /** SQLite only: run the store in a worker thread (see threaded-sqlite-store.ts). Default true. */
  readonly thread?: boolean;
  /** SQLite in a thread: told when the thread dies and is restarted (or given up on). */
  readonly logger?: QueueLogger;
}

export async function openQueueStore(location: QueueStoreLocation): Promise<QueueStore> {
  if (location.url) {
    return openPostgresStore({
      connectionString: location.url,
      ...(location.schema ? { schema: location.schema } : {}),
    });
  }
  mkdirSync(location.dataDir, { recursive: true, mode: 0o700 });
  return openSqliteStore({
    path: join(location.dataDir, 'queue.db'),
    thread: location.thread ?? true,
    ...(location.logger ? { logger: location.logger } : {}),
  });
}
