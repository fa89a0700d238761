import { describeWithPostgres, openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { type DestinationStore, openPostgresDestinations, openSqliteDestinations } from './destinations.ts';

function contract(open: () => Promise<DestinationStore>): void {
  it('goes unknown -> pending (one token) -> verified', async () => {
    const store = await open();
    try {
      expect(await store.state('Dest@Inbox.test')).toBe('unknown');
      const first = await store.request('Dest@Inbox.test');
      expect(first).toMatchObject({ address: 'dest@inbox.test', created: true });
      const again = await store.request('dest@inbox.test');
      expect(again).toEqual({ ...first, created: false });
      expect(await store.state('dest@inbox.test')).toBe('pending');
      expect(await store.lookup(first?.token ?? '')).toBe('dest@inbox.test');
      expect(await store.confirm('not-a-token')).toBeNull();
      expect(await store.confirm(first?.token ?? '')).toBe('dest@inbox.test');
      expect(await store.state('DEST@inbox.test')).toBe('verified');
      expect(await store.request('dest@inbox.test')).toBeNull();
    } finally {
      await store.close();
    }
  });
}

describe('SQLite destinations', () => {
  let n = 0;
  contract(async () => {
    const dir = await openTempDir();
    return openSqliteDestinations(dir.join(`d${n++}.db`));
  });
});

describeWithPostgres('PostgreSQL destinations', (db) => {
  contract(() => openPostgresDestinations(db().url, db().schema));
});
