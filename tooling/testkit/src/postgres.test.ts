import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithPostgres, openTestPostgres, postgresAvailability } from './postgres.ts';

it('requires PostgreSQL under CI=true and only skips outside CI', () => {
  expect(postgresAvailability({ CI: 'true' })).toEqual({
    available: false,
    reason: 'MAILYARD_TEST_PG_URL is not set',
    required: true,
  });
  expect(postgresAvailability({})).toMatchObject({ available: false, required: false });
  expect(postgresAvailability({ MAILYARD_TEST_PG_URL: 'postgres://x/y' })).toEqual({
    available: true,
    url: 'postgres://x/y',
  });
});

describeWithPostgres('a PostgreSQL test schema', (db) => {
  it('is created for the suite, used as the search path, and dropped on dispose', async () => {
    const { url } = db();
    const own = await openTestPostgres(url);
    await own.query('CREATE TABLE t (x INTEGER)');
    const { rows } = await own.query<{ schema: string }>(
      "SELECT table_schema AS schema FROM information_schema.tables WHERE table_name = 't'",
    );
    expect(rows.map((r) => r.schema)).toContain(own.schema);
    await own[Symbol.asyncDispose]();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const left = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [own.schema]);
    await client.end();
    expect(left.rowCount).toBe(0);
  });
});
