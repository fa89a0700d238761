// Multi-worker test: four worker processes on one PostgreSQL database deliver 2,000 recipients
// to a loopback TCP peer. Without crashes each recipient arrives exactly once; with one worker
// killed mid-run each arrives at least once, and only what the killed worker held is duplicated.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describeWithPostgres, type TestPostgres } from '@mailyard/testkit';
import { afterEach, expect, it } from 'vitest';
import { openPostgresStore, openQueue } from '../src/index.ts';
import { envelope } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/worker-child.ts', import.meta.url));
const MESSAGES = 200;
const PER_MESSAGE = 10;

interface Peer {
  readonly server: Server;
  readonly port: number;
  readonly arrivals: Map<string, number>;
}

/** Counts each recipient line of a batch when the batch ends; answers a bit slowly, like a real MX. */
async function startPeer(delayMs: number): Promise<Peer> {
  const arrivals = new Map<string, number>();
  const server = createServer((socket) => {
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buffered += d.toString();
      if (!buffered.endsWith('END\n')) return;
      const lines = buffered.split('\n').filter((l) => l && l !== 'END');
      for (const line of lines) arrivals.set(line, (arrivals.get(line) ?? 0) + 1);
      setTimeout(() => socket.end('2.0.0 ok\n'), delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, arrivals };
}

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly leased: Set<string>;
  readonly delivered: Set<string>;
  readonly ready: Promise<void>;
}

function startWorker(url: string, schema: string, port: number, leaseMs: number): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=source', CHILD, url, schema, String(port), String(leaseMs)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const leased = new Set<string>();
  const delivered = new Set<string>();
  let buffered = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.on('exit', (code, signal) => reject(new Error(`worker exited early: ${code ?? signal}`)));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, queueId, rest] = line.split(' ');
        if (kind === 'ready') resolve();
        else if (kind === 'leased')
          for (const rcpt of rest?.split(',') ?? []) leased.add(`${queueId} ${rcpt}`);
        else if (kind === 'delivered') delivered.add(`${queueId} ${rest}`);
      }
    });
  });
  ready.catch(() => undefined);
  return { child, leased, delivered, ready };
}

async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const children: ChildProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of servers.splice(0)) server.close();
});

describeWithPostgres('four workers on one PostgreSQL queue', (db) => {
  async function run(
    name: string,
    options: { leaseMs: number; peerDelayMs: number; killAfterArrivals?: number },
  ): Promise<{ peer: Peer; workers: WorkerProcess[]; expected: string[] }> {
    const database: TestPostgres = db();
    const schema = `${database.schema}_${name}`;
    await database.query(`CREATE SCHEMA "${schema}"`);
    await using store = await openPostgresStore({ connectionString: database.url, schema });
    await using queue = await openQueue({ store });
    const expected: string[] = [];
    for (let m = 0; m < MESSAGES; m++) {
      const rcpts = Array.from({ length: PER_MESSAGE }, (_, i) => `u${m}x${i}@d${(m + i) % 5}.example`);
      const { queueId } = await queue.enqueue({
        envelope: envelope('sender@example.org', rcpts),
        message: `m${m}`,
      });
      for (const rcpt of rcpts) expected.push(`${queueId} ${rcpt}`);
    }
    const peer = await startPeer(options.peerDelayMs);
    servers.push(peer.server);
    const workers = Array.from({ length: 4 }, () =>
      startWorker(database.url, schema, peer.port, options.leaseMs),
    );
    children.push(...workers.map((w) => w.child));
    await Promise.all(workers.map((w) => w.ready));
    const victim = workers[0];
    if (options.killAfterArrivals !== undefined && victim) {
      await waitFor(
        () => peer.arrivals.size >= (options.killAfterArrivals ?? 0),
        60_000,
        'deliveries to start',
      );
      victim.child.kill('SIGKILL');
    }
    await waitFor(
      async () => (await queue.counts()).delivered === expected.length,
      90_000,
      'all recipients delivered',
    );
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(
      workers.map((w) =>
        w.child.exitCode === null && w.child.signalCode === null ? once(w.child, 'exit') : null,
      ),
    );
    await database.query(`DROP SCHEMA "${schema}" CASCADE`);
    return { peer, workers, expected };
  }

  it('delivers 2,000 recipients with four worker processes, each exactly once', {
    timeout: 150_000,
  }, async () => {
    const { peer, workers, expected } = await run('clean', { leaseMs: 60_000, peerDelayMs: 0 });
    expect(peer.arrivals.size).toBe(expected.length);
    for (const key of expected) expect(peer.arrivals.get(key), key).toBe(1);
    // Every worker took part: the load was shared, not serialised on one.
    for (const w of workers) expect(w.delivered.size).toBeGreaterThan(0);
  });

  it('delivers every recipient at least once when a worker is killed, duplicating only its leases', {
    timeout: 150_000,
  }, async () => {
    const { peer, workers, expected } = await run('kill', {
      leaseMs: 3_000,
      peerDelayMs: 30,
      killAfterArrivals: 400,
    });
    for (const key of expected) expect(peer.arrivals.get(key) ?? 0, key).toBeGreaterThanOrEqual(1);
    const victim = workers[0];
    if (!victim) throw new Error('no victim');
    // What the killed worker held and had not recorded: the only recipients that may arrive twice.
    const held = [...victim.leased].filter((key) => !victim.delivered.has(key));
    const duplicates = [...peer.arrivals].filter(([, n]) => n > 1).map(([key]) => key);
    for (const key of duplicates)
      expect(held, `${key} duplicated but not held by the killed worker`).toContain(key);
    expect(duplicates.length).toBeLessThanOrEqual(held.length);
    expect(Math.max(...peer.arrivals.values())).toBeLessThanOrEqual(2);
    console.info(
      `multi-worker kill: ${duplicates.length} duplicates, ${held.length} recipients held by the killed worker`,
    );
  });
});
