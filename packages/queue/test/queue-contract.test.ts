// Runs the queue contract against every store: SQLite in a temp dir (in the caller's thread and in
// a worker thread), PostgreSQL in a schema of its own (skipped with a reason without
// MAILYARD_TEST_PG_URL, failing under CI).

import { describeWithPostgres, openTempDir, type TempDir } from '@mailyard/testkit';
import { afterAll, beforeAll, describe } from 'vitest';
import { postgresStores, sqliteStores } from './helpers.ts';
import { queueContract } from './queue-contract.ts';

describe('queue on SQLite', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await openTempDir('mailyard-queue-');
  });
  afterAll(async () => {
    await dir[Symbol.asyncDispose]();
  });
  queueContract(sqliteStores(() => dir.path));
});

describe('queue on SQLite in a worker thread', () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await openTempDir('mailyard-queue-thread-');
  });
  afterAll(async () => {
    await dir[Symbol.asyncDispose]();
  });
  queueContract(sqliteStores(() => dir.path, true));
});

describeWithPostgres('queue on PostgreSQL', (db) => {
  queueContract(postgresStores(db));
});
