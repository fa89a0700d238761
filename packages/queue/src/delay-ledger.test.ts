import { describeWithPostgres, openTempDir } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DelayLedger, openDelayLedger, openSqliteDelayLedger } from './delay-ledger.ts';

function ledgerContract(open: () => Promise<DelayLedger>): void {
  it('lets only the first claim of a message win, until it is given back', async () => {
    const ledger = await open();
    try {
      expect(await ledger.claim('Q1', 1000)).toBe(true);
      expect(await ledger.claim('Q1', 2000)).toBe(false);
      await ledger.unclaim('Q1');
      expect(await ledger.claim('Q1', 3000)).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  it('forgets claims older than the prune time', async () => {
    const ledger = await open();
    try {
      await ledger.claim('OLD', 1000);
      await ledger.claim('NEW', 5000);
      await ledger.prune(2000);
      expect(await ledger.claim('OLD', 6000)).toBe(true);
      expect(await ledger.claim('NEW', 6000)).toBe(false);
    } finally {
      await ledger.close();
    }
  });
}

describe('SQLite delay ledger', () => {
  let dir: Awaited<ReturnType<typeof openTempDir>>;
  let files = 0;
  beforeAll(async () => {
    dir = await openTempDir();
  });
  afterAll(async () => {
    await dir?.[Symbol.asyncDispose]();
  });
  ledgerContract(async () => openSqliteDelayLedger(dir.join(`ledger-${++files}.db`)));

  it('keeps claims across reopening, in delay-notices.db of the data dir', async () => {
    await using dir = await openTempDir();
    const first = await openDelayLedger({ url: null, schema: null, dataDir: dir.path });
    await first.claim('Q1', 1000);
    await first.close();
    const second = openSqliteDelayLedger(dir.join('delay-notices.db'));
    expect(await second.claim('Q1', 2000)).toBe(false);
    await second.close();
  });
});

describeWithPostgres('PostgreSQL delay ledger', (db) => {
  ledgerContract(() => openDelayLedger({ url: db().url, schema: db().schema, dataDir: '/nonexistent' }));

  it('shares claims between processes on one database', async () => {
    const a = await openDelayLedger({ url: db().url, schema: db().schema, dataDir: '/nonexistent' });
    const b = await openDelayLedger({ url: db().url, schema: db().schema, dataDir: '/nonexistent' });
    try {
      const results = await Promise.all([a.claim('SHARED', 1), b.claim('SHARED', 1)]);
      expect(results.sort()).toEqual([false, true]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
