// PostgreSQL for tests: reads MAILYARD_TEST_PG_URL, gives each test file its own schema and drops
// it afterwards. Without the variable, suites are skipped with the reason in the test name, except
// under CI=true, where a missing database is a failure: CI must never pass by skipping.

import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';

export const POSTGRES_URL_VARIABLE = 'MAILYARD_TEST_PG_URL';

export type PostgresAvailability =
  | { readonly available: true; readonly url: string }
  | { readonly available: false; readonly reason: string; readonly required: boolean };

/** Whether PostgreSQL tests can run here; `required` is true under CI, where skipping is an error. */
export function postgresAvailability(env: NodeJS.ProcessEnv = process.env): PostgresAvailability {
  const url = env[POSTGRES_URL_VARIABLE];
  if (url) return { available: true, url };
  return {
    available: false,
    reason: `${POSTGRES_URL_VARIABLE} is not set`,
    required: env.CI === 'true' || env.CI === '1',
  };
}

export interface TestPostgres {
  readonly url: string;
  /** A fresh schema of its own; pass it to whatever takes a search path. */
  readonly schema: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates an isolated schema in the database at `url`; disposing drops it with everything in it. */
export async function openTestPostgres(url: string): Promise<TestPostgres> {
  const schema = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`);
  } catch (error) {
    await admin.end();
    throw error;
  }
  const pool = new pg.Pool({ connectionString: url, max: 2, options: `-c search_path="${schema}"` });
  return {
    url,
    schema,
    query: (text, params) => pool.query(text, params),
    async [Symbol.asyncDispose]() {
      await pool.end();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

/**
 * A vitest suite that needs PostgreSQL. It gets its own schema (created before, dropped after).
 * Without MAILYARD_TEST_PG_URL it is skipped with the reason in the name — or, under CI, fails.
 */
export function describeWithPostgres(name: string, body: (db: () => TestPostgres) => void): void {
  const availability = postgresAvailability();
  if (!availability.available) {
    const { reason, required } = availability;
    describe(name, () => {
      if (required) {
        it(`needs PostgreSQL under CI (${reason})`, () => {
          throw new Error(`${reason}: PostgreSQL tests must run under CI`);
        });
      } else {
        it.skip(`skipped: ${reason}`, () => {});
      }
    });
    return;
  }
  describe(name, () => {
    let db: TestPostgres | undefined;
    beforeAll(async () => {
      db = await openTestPostgres(availability.url);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });
    body(() => {
      if (!db) throw new Error('PostgreSQL test schema is not ready (beforeAll failed)');
      return db;
    });
  });
}
