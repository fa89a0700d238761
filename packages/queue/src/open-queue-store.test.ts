import { statSync } from 'node:fs';
import { describeWithPostgres, openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { envelope } from '../test/helpers.ts';
import { openQueueStore } from './open-queue-store.ts';
import { openQueue } from './queue.ts';
import { storeThread, type ThreadedSqliteStore } from './threaded-sqlite-store.ts';

describe('openQueueStore', () => {
  it('opens SQLite in queue.db of the data dir, creating the dir owner-only', async () => {
    await using dir = await openTempDir();
    const dataDir = dir.join('data', 'nested');
    const store = await openQueueStore({ url: null, schema: null, dataDir });
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(statSync(dir.join('data', 'nested', 'queue.db')).isFile()).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('runs SQLite in a worker thread unless told not to', async () => {
    await using dir = await openTempDir();
    const threaded = await openQueueStore({ url: null, schema: null, dataDir: dir.join('a') });
    const inline = await openQueueStore({ url: null, schema: null, dataDir: dir.join('b'), thread: false });
    try {
      expect(storeThread in threaded).toBe(true);
      expect(storeThread in inline).toBe(false);
    } finally {
      await threaded.close();
      await inline.close();
    }
  });

  it("hands the logger to SQLite's thread, which logs its restart", async () => {
    await using dir = await openTempDir();
    const logged: (string | undefined)[] = [];
    const logger = {
      info: () => {},
      warn: (_: object, message?: string) => void logged.push(message),
      error() {},
    };
    const store = (await openQueueStore({
      url: null,
      schema: null,
      dataDir: dir.path,
      logger,
    })) as ThreadedSqliteStore;
    try {
      await store[storeThread].terminate();
      expect((await store.counts()).pending).toBe(0);
      expect(logged).toEqual(['queue store: thread died, starting a new one']);
    } finally {
      await store.close();
    }
  });
});

describeWithPostgres('openQueueStore with a postgres:// URL', (db) => {
  it('opens the PostgreSQL store in the given schema and leaves the data dir alone', async () => {
    await using dir = await openTempDir();
    const store = await openQueueStore({ url: db().url, schema: db().schema, dataDir: dir.join('unused') });
    try {
      await using queue = await openQueue({ store });
      await queue.enqueue({ envelope: envelope('a@example.org', ['b@example.net']), message: 'x' });
      const { rows } = await db().query(
        'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
        [db().schema],
      );
      expect((rows[0] as { n: number }).n).toBeGreaterThan(0);
      expect(() => statSync(dir.join('unused'))).toThrow(/ENOENT/);
    } finally {
      await store.close();
    }
  });
});
