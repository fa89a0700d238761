import { parseAddress } from '@mailyard/smtp';
import { describeWithPostgres } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { openPostgresStore } from './postgres-store.ts';
import { openQueue } from './queue.ts';

describeWithPostgres('PostgreSQL store', (db) => {
  it('gives concurrent leases from two stores disjoint recipients (SKIP LOCKED)', async () => {
    const { url, schema } = db();
    await using a = await openPostgresStore({ connectionString: url, schema });
    await using b = await openPostgresStore({ connectionString: url, schema });
    await using qa = await openQueue({ store: a });
    await using qb = await openQueue({ store: b });
    for (let i = 0; i < 20; i++) {
      await qa.enqueue({
        envelope: {
          mailFrom: null,
          rcptTo: [{ address: parseAddress(`r${i}@h${i % 4}.example`) }],
          params: {},
        },
        message: 'x',
      });
    }
    const leased: string[] = [];
    for (let round = 0; round < 3; round++) {
      const [fromA, fromB] = await Promise.all([
        qa.lease({ owner: 'a', maxGroups: 15, leaseMs: 60_000 }),
        qb.lease({ owner: 'b', maxGroups: 15, leaseMs: 60_000 }),
      ]);
      leased.push(...[...fromA, ...fromB].map((batch) => batch.queueId));
    }
    expect(leased).toHaveLength(20);
    expect(new Set(leased).size).toBe(20);
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(
      openPostgresStore({ connectionString: db().url, schema: 'x; DROP TABLE y' }),
    ).rejects.toThrow(TypeError);
  });
});
