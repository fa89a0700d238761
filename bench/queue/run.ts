// bench/queue: durable enqueues per second for 1 KB and 100 KB messages with 1, 20 and 100
// concurrent producers, on SQLite and PostgreSQL, next to the naive design (one bare fsync'd file
// write per message on the same disk); and the cost of a lease-deliver-ack cycle.
// `sqlite-thread` is the SQLite store in a worker thread (openSqliteStore's `thread`): its CPU
// figures are `process/main thread`, the main thread's share being what an app's event loop pays.
// Run: pnpm exec node --conditions=source bench/queue/run.ts [--seconds 2] [--no-postgres]
//   [--sizes 1024,102400] [--producers 1,20,100] [--no-naive] [--no-cycle] [--no-enqueue]
//   [--no-thread] [--no-sqlite]
// PostgreSQL: MAILYARD_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test).

import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createWorker,
  openPostgresStore,
  openQueue,
  openSqliteStore,
  type QueueStore,
} from '@mailyard/queue';
import { type Courier, type Envelope, parseAddress } from '@mailyard/smtp';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    'no-postgres': { type: 'boolean', default: false },
    sizes: { type: 'string', default: '1024,102400' },
    producers: { type: 'string', default: '1,20,100' },
    'no-naive': { type: 'boolean', default: false },
    'no-cycle': { type: 'boolean', default: false },
    'no-enqueue': { type: 'boolean', default: false },
    'no-thread': { type: 'boolean', default: false },
    'no-sqlite': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(values.seconds);
const PG_URL = process.env.MAILYARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const list = (text: string): number[] => text.split(',').filter(Boolean).map(Number);
const SIZES = values['no-enqueue'] ? [] : list(values.sizes);
const PRODUCERS = list(values.producers);
// Postfix's default process limit: how many deliveries an MTA runs at once.
const CYCLE_CONCURRENCY = 100;

const dir = await mkdtemp(join(tmpdir(), 'mailyard-bench-queue-'));
let n = 0;

function envelopeFor(i: number): Envelope {
  return {
    mailFrom: parseAddress('sender@example.org'),
    rcptTo: [{ address: parseAddress(`r${i}@d${i % 50}.example`) }],
    params: {},
  };
}

/** CPU time of this process per operation, in µs: robust where wall-clock rates swing with load. */
const cpuPer = new Map<string, number>();
/** CPU time of the main thread alone per operation, in µs: what the app's event loop pays. */
const mainCpuPer = new Map<string, number>();
interface CpuMark {
  readonly process: NodeJS.CpuUsage;
  readonly main: NodeJS.CpuUsage;
}
const cpuMark = (): CpuMark => ({ process: process.cpuUsage(), main: process.threadCpuUsage() });
function cpuSince(start: CpuMark, ops: number, key: string): void {
  const used = process.cpuUsage(start.process);
  const main = process.threadCpuUsage(start.main);
  cpuPer.set(key, (used.user + used.system) / Math.max(1, ops));
  mainCpuPer.set(key, (main.user + main.system) / Math.max(1, ops));
}

/** Runs `producers` loops of `one()` for the bench time; returns operations per second. */
async function measure(
  producers: number,
  one: (i: number) => Promise<unknown>,
  cpuKey?: string,
): Promise<number> {
  let count = 0;
  const end = performance.now() + SECONDS * 1000;
  const cpu = cpuMark();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < end) {
        await one(count);
        count++;
      }
    }),
  );
  if (cpuKey) cpuSince(cpu, count, cpuKey);
  return count / ((performance.now() - start) / 1000);
}

/** The naive design: each message in a file of its own, written and fsynced before "250". */
async function naive(size: number, producers: number): Promise<number> {
  const body = randomBytes(size);
  const cell = join(dir, `naive-${n++}`);
  await (await import('node:fs/promises')).mkdir(cell);
  const rate = await measure(
    producers,
    async (i) => {
      const file = await open(join(cell, `${i}-${Math.random()}`), 'w');
      await file.write(body);
      await file.sync();
      await file.close();
    },
    `naive ${size} ${producers}`,
  );
  await rm(cell, { recursive: true, force: true });
  return rate;
}

interface Backend {
  readonly name: string;
  open(): Promise<{ store: QueueStore; dispose(): Promise<void> }>;
}

const sqliteBackend = (thread: boolean): Backend => ({
  name: thread ? 'sqlite-thread' : 'sqlite',
  async open() {
    const path = join(dir, `queue-${n++}.db`);
    const store = await openSqliteStore({ path, thread });
    return {
      store,
      async dispose() {
        await store.close();
        for (const suffix of ['', '-wal', '-shm', '-bodies']) {
          await rm(`${path}${suffix}`, { recursive: true, force: true });
        }
      },
    };
  },
});

const postgres: Backend = {
  name: 'postgres',
  async open() {
    const schema = `bench_queue_${process.pid}_${n++}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const store = await openPostgresStore({ connectionString: PG_URL, schema, maxConnections: 10 });
    return {
      store,
      async dispose() {
        await store.close();
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      },
    };
  },
};

async function enqueueRate(backend: Backend, size: number, producers: number): Promise<number> {
  const { store, dispose } = await backend.open();
  const queue = await openQueue({ store });
  const body = randomBytes(size);
  const rate = await measure(
    producers,
    (i) => queue.enqueue({ envelope: envelopeFor(i), message: body }),
    `${backend.name} ${size} ${producers}`,
  );
  await dispose();
  return rate;
}

/** Prefills recipients, then times a worker leasing, delivering (reading the body) and recording them. */
async function cycleRate(backend: Backend, messages: number): Promise<number> {
  const { store, dispose } = await backend.open();
  const queue = await openQueue({ store });
  const body = randomBytes(1024);
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < messages) await queue.enqueue({ envelope: envelopeFor(next++), message: body });
    }),
  );
  const courier: Courier = {
    async deliver(request) {
      for await (const _ of request.openMessage()) {
        // read the message as a real courier would
      }
      return request.envelope.rcptTo.map((r) => ({
        rcpt: `${r.address.localPart}@${r.address.domain}`,
        status: 'delivered' as const,
        reply: '250 2.0.0 Ok',
      }));
    },
  };
  const worker = createWorker({ queue, courier, concurrency: CYCLE_CONCURRENCY, perNextHop: 10 });
  const cpu = cpuMark();
  const start = performance.now();
  await worker.runOnce();
  const elapsed = (performance.now() - start) / 1000;
  const delivered = (await queue.counts()).delivered;
  cpuSince(cpu, delivered, `${backend.name} cycle`);
  const rate = delivered / elapsed;
  await queue.close();
  await dispose();
  return rate;
}

async function postgresReachable(): Promise<boolean> {
  if (values['no-postgres']) return false;
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const backends = [
  ...(values['no-sqlite'] ? [] : [sqliteBackend(false)]),
  ...(values['no-thread'] ? [] : [sqliteBackend(true)]),
  ...((await postgresReachable()) ? [postgres] : []),
];
/** `process/main` µs when the main thread did less than the process (a store in a thread). */
function cpuCell(key: string): string {
  const total = cpuPer.get(key) ?? Number.NaN;
  const main = mainCpuPer.get(key) ?? Number.NaN;
  return total - main > 0.05 * total ? `${total.toFixed(0)}/${main.toFixed(0)}` : total.toFixed(0);
}
const fmt = (x: number): string => Math.round(x).toLocaleString('en-US').padStart(8);
console.log(`durable enqueues/s, ${SECONDS} s per cell (ratio = queue / naive fsync'd file per message)`);
console.log(
  `${'size'.padEnd(7)}${'producers'.padStart(10)}${'naive'.padStart(10)}${backends.map((b) => `${b.name.padStart(14)}${'ratio'.padStart(7)}`).join('')}   CPU µs/msg (naive / ${backends.map((b) => b.name).join(' / ')})`,
);
const results: { size: number; producers: number; naive: number; rates: number[] }[] = [];
for (const size of SIZES) {
  for (const producers of PRODUCERS) {
    const base = values['no-naive'] ? Number.NaN : await naive(size, producers);
    const rates: number[] = [];
    for (const backend of backends) rates.push(await enqueueRate(backend, size, producers));
    results.push({ size, producers, naive: base, rates });
    const cpu = ['naive', ...backends.map((b) => b.name)].map((name) =>
      cpuCell(`${name} ${size} ${producers}`),
    );
    console.log(
      `${`${size / 1024} KB`.padEnd(7)}${String(producers).padStart(10)}  ${fmt(base)}${rates
        .map((r) => `      ${fmt(r)}${`${(r / base).toFixed(1)}x`.padStart(7)}`)
        .join('')}   ${cpu.join(' / ')}`,
    );
  }
}

console.log(
  `\nlease-deliver-ack cycle (1 KB, 1 recipient each, 50 next hops, one worker, concurrency ${CYCLE_CONCURRENCY})`,
);
const cycles: number[] = [];
for (const [i, backend] of (values['no-cycle'] ? [] : backends).entries()) {
  const cycle = await cycleRate(backend, backend.name.startsWith('sqlite') ? 20_000 : 5_000);
  cycles.push(cycle);
  const enqueue = results.find((r) => r.size === 1024 && r.producers === 20)?.rates[i] ?? 0;
  console.log(
    `${backend.name.padEnd(13)} ${fmt(cycle)} recipients/s = ${(1e6 / cycle).toFixed(0)} µs per cycle; ` +
      `enqueue (1 KB, 20 producers) ${(1e6 / enqueue).toFixed(0)} µs per message; ` +
      `CPU µs (process/main thread): cycle ${cpuCell(`${backend.name} cycle`)}, enqueue ${cpuCell(`${backend.name} 1024 20`)}`,
  );
}

const target = results.find((r) => r.size === 1024 && r.producers === 20);
if (target) {
  const sqliteRate = target.rates[0] ?? 0;
  console.log(
    `\ntargets (1 KB, 20 producers, SQLite): ${Math.round(sqliteRate)}/s (want >= 10,000), ` +
      `${(sqliteRate / target.naive).toFixed(1)}x naive (want >= 3x)`,
  );
  if (cycles[0] !== undefined) {
    console.log(
      `  cycle ${(1e6 / cycles[0]).toFixed(0)} µs vs enqueue ${(1e6 / sqliteRate).toFixed(0)} µs per message (wall); ` +
        `CPU ${(cpuPer.get('sqlite cycle') ?? 0).toFixed(0)} vs ${(cpuPer.get('sqlite 1024 20') ?? 0).toFixed(0)} µs (want cycle < enqueue)`,
    );
  }
}
const large = results.find((r) => r.size === 100 * 1024 && r.producers === 20);
if (large) {
  console.log(
    `targets (100 KB, 20 producers, SQLite): ${((large.rates[0] ?? 0) / large.naive).toFixed(1)}x naive (want >= 3x); ` +
      `CPU per message ${(cpuPer.get('sqlite 102400 20') ?? 0).toFixed(0)} µs vs naive ${(cpuPer.get('naive 102400 20') ?? 0).toFixed(0)} µs`,
  );
}
await rm(dir, { recursive: true, force: true });
