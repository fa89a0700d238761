// Crash test: a child process enqueues in a loop and is killed with SIGKILL at random moments,
// many times, on one SQLite file. After each kill, reopening must find every message whose
// enqueue had resolved, byte-identical, and nothing half-written — for small bodies kept in the
// database and for large ones in body segments (whose unnamed bytes start-up must cut off).

import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { openTempDir } from '@mailyard/testkit';
import { expect, it } from 'vitest';
import { openQueue, openSqliteStore } from '../src/index.ts';
import { sha256 } from './helpers.ts';

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));
const ROUNDS = 12;

interface Round {
  readonly tried: Set<string>;
  readonly resolved: Map<string, string>;
}

function runChild(path: string, killAfterMs: number, thread: boolean): Promise<Round> {
  const tried = new Set<string>();
  const resolved = new Map<string, string>();
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ['--conditions=source', CHILD, path, ...(thread ? ['thread'] : [])],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let buffered = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'ready' && !timer) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else if (kind === 'try' && a) tried.add(a);
        else if (kind === 'ok' && a && b) resolved.set(a, b);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ tried, resolved });
      else reject(new Error(`crash child exited by itself (code ${code}): ${stderr}`));
    });
  });
}

it.each([
  ['in the app thread', false],
  ['in a worker thread', true],
])(
  'keeps every resolved enqueue byte-identical and nothing half-written across SIGKILLs, store %s',
  {
    timeout: 120_000,
  },
  async (_where, thread) => {
    await using dir = await openTempDir('mailyard-crash-');
    const path = dir.join('queue.db');
    const everResolved = new Map<string, string>();
    const everTried = new Set<string>();
    const verified = new Set<string>();
    let killedWithStaged = 0;
    let inSegments = 0;
    let inDatabase = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { tried, resolved } = await runChild(path, 100 + Math.floor(Math.random() * 500), thread);
      for (const sha of tried) everTried.add(sha);
      for (const [id, sha] of resolved) everResolved.set(id, sha);

      await using store = await openSqliteStore({ path });
      // The queue's start-up removes what the kill left half-done; its log says how much.
      const queue = await openQueue({
        store,
        logger: {
          info() {},
          error() {},
          warn(fields) {
            const cleaned = fields as { chunks?: number; segmentBytes?: number };
            if (cleaned.chunks || cleaned.segmentBytes) killedWithStaged++;
          },
        },
      });
      const present = await queue.list({ limit: 1_000_000 });
      const presentIds = new Set(present.map((m) => m.queueId));
      for (const id of everResolved.keys()) {
        expect(presentIds.has(id), `resolved ${id} lost in round ${round}`).toBe(true);
      }
      // Everything present is whole: its bytes hash to what was committed, and the child made it.
      for (const message of present) {
        if (verified.has(message.queueId)) continue;
        const shown = await queue.show(message.queueId);
        const sha = shown?.sha256 ?? '';
        expect(everTried.has(sha)).toBe(true);
        if (everResolved.has(message.queueId)) expect(sha).toBe(everResolved.get(message.queueId));
        expect(await sha256(queue.openMessage(message.queueId))).toBe(sha);
        expect(shown?.recipients).toHaveLength(1);
        verified.add(message.queueId);
      }
      expect(await store.cleanOrphans(Number.MAX_SAFE_INTEGER)).toEqual({
        chunks: 0,
        bodies: 0,
        segmentBytes: 0,
      });
      // Every segment left is exactly the bytes committed rows name: no unnamed tail, no dead file.
      const db = new DatabaseSync(path, { readOnly: true });
      const ends = new Map(
        (
          db.prepare('SELECT segment, max(pos + len) AS end FROM mq_extents GROUP BY segment').all() as {
            segment: number;
            end: number;
          }[]
        ).map((r) => [Number(r.segment), Number(r.end)]),
      );
      inSegments = Number(
        (db.prepare('SELECT count(DISTINCT message_id) AS n FROM mq_extents').get() as { n: number }).n,
      );
      inDatabase = Number(
        (db.prepare('SELECT count(DISTINCT message_id) AS n FROM mq_chunks').get() as { n: number }).n,
      );
      db.close();
      const files = await readdir(`${path}-bodies`);
      for (const file of files) {
        const segment = Number.parseInt(file, 10);
        expect(ends.has(segment), `segment ${file} is named by no row`).toBe(true);
        expect((await stat(join(`${path}-bodies`, file))).size).toBe(ends.get(segment));
      }
      await queue.close();
    }
    // Both places a body can live were crashed into, not just one.
    expect(inSegments).toBeGreaterThan(ROUNDS);
    expect(inDatabase).toBeGreaterThan(0);
    expect(everResolved.size).toBeGreaterThan(ROUNDS);
    // Not an assertion of luck: reported so a reader sees the cut-off-while-staging path was hit.
    console.info(
      `crash test (${thread ? 'worker thread' : 'app thread'}): ${everResolved.size} resolved enqueues (${inSegments} bodies in segments, ${inDatabase} in ` +
        `the database), ${killedWithStaged} kills left orphaned body bytes`,
    );
  },
);
