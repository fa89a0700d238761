// Sink benchmark (issue 6): messages per second accepted (and stored) under Postfix's
// smtp-source (../shared/tools/smtp-accept-rate.sh), 20 sessions, 1 KB and 100 KB, a new
// connection per message and reused connections, for `mailyard sink` next to bare smtp-server
// (100 ms greeting pause removed, discarding), MailDev (the most used Node sink, in-memory, web
// UI off), Postfix's smtp-sink (C, discards: the practical ceiling) and @mailyard/smtp's server
// with a discarding backend (the SMTP layer the sink is built on), all in one run.
//
// The machine is shared, so wall-clock rates drift: every measurement starts a fresh server,
// rounds alternate the order of the contenders, medians are compared, and each round also reads
// the server's CPU time (user + system, /proc/PID/stat) around the smtp-source run, divided by
// the messages sent: CPU per message is the cost of the code and moves little with the load.
// The sink parses messages in the background after answering; its CPU including that work
// (measured once the API reports everything parsed) is printed as well, and so is the CPU of
// the process's main thread alone (the event loop that serves SMTP; the sink's SQLite writer
// and WAL checkpointer run on threads of their own).
//
// Then the API over 10,000 stored messages: list pages and searches, median of 7 requests.
//
// Every measurement starts a fresh server and first sends it a quarter of the load's messages,
// not counted (BENCH_WARMUP=0 for cold servers); the sink parses those before the clock starts.
//
// Usage: pnpm exec node --conditions=source bench/sink/run.ts
//   env: BENCH_MSGS (1 KB messages per run, default 4000), BENCH_BIG_MSGS (100 KB, default 600),
//        BENCH_ROUNDS (default 3), BENCH_WARMUP (share of the count sent first, default 0.25),
//        BENCH_API_MSGS (default 10000), BENCH_ONLY (comma-separated contender names to run,
//        e.g. "mailyard sink,bare smtp-server")

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  buildPackage,
  cpuSeconds,
  freePort,
  requireSmtpSource,
  rssBytes,
  tools,
  waitForGreeting,
} from '../lib/harness.ts';

const run = promisify(execFile);
const here = import.meta.dirname;
const root = join(here, '..', '..');
const msgs = Number(process.env.BENCH_MSGS ?? 4000);
const bigMsgs = Number(process.env.BENCH_BIG_MSGS ?? 600);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
/** Warm-up before each measurement, as a share of its message count (0 = none). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.25);
const apiMsgs = Number(process.env.BENCH_API_MSGS ?? 10_000);
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const SESSIONS = 20;

requireSmtpSource();
buildPackage('@mailyard/smtp');

interface Started {
  readonly child: ChildProcess;
  /** After the load: waits for deferred work (the sink's parsing) and checks what was stored. */
  readonly settle?: (expected: number) => Promise<void>;
  readonly cleanup?: () => void;
}

interface Contender {
  readonly name: string;
  start(port: number): Promise<Started>;
}

const node = process.execPath;
const smtpServerPath = join(root, 'packages', 'smtp', 'node_modules');
const maildevBin = join(here, '..', 'node_modules', 'maildev', 'dist', 'bin', 'maildev.js');

async function apiTotal(httpPort: number): Promise<number> {
  // The Mailpit list waits until every stored message is parsed (store.idle()).
  const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/messages?limit=1`);
  return ((await response.json()) as { total: number }).total;
}

function startSink(port: number, httpPort: number, dir: string): ChildProcess {
  return spawn(
    node,
    [
      '--conditions=source',
      join(root, 'apps', 'cli', 'src', 'main.ts'),
      'sink',
      '--smtp',
      `127.0.0.1:${port}`,
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--database',
      join(dir, 'sink.db'),
      '--max',
      '0',
      '--no-verdicts',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

const contenders: Contender[] = [
  {
    name: 'mailyard sink',
    async start(port: number) {
      const dir = mkdtempSync(join(tmpdir(), 'mailyard-bench-sink-'));
      const httpPort = await freePort();
      const child = startSink(port, httpPort, dir);
      return {
        child,
        async settle(expected: number) {
          const total = await apiTotal(httpPort);
          if (total !== expected) throw new Error(`sink stored ${total} of ${expected} messages`);
        },
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    // The SMTP layer alone (bench/smtp's discarding backend): what the sink adds is the rest.
    name: '@mailyard/smtp',
    async start(port: number) {
      const child = spawn(node, [join(here, '..', 'smtp', 'discard-server.js'), String(port)], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      return { child };
    },
  },
  {
    name: 'bare smtp-server',
    async start(port: number) {
      const child = spawn(node, [join(tools, 'bare-smtp-server.js'), String(port), 'drain'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, NO_GREETING_DELAY: '1', NODE_PATH: smtpServerPath },
      });
      return { child };
    },
  },
  ...(existsSync(maildevBin)
    ? [
        {
          name: 'maildev',
          async start(port: number) {
            const child = spawn(
              node,
              [maildevBin, '--smtp', String(port), '--ip', '127.0.0.1', '--disable-web', '--silent'],
              { stdio: ['ignore', 'ignore', 'inherit'] },
            );
            return { child };
          },
        },
      ]
    : []),
  ...(existsSync('/usr/sbin/smtp-sink')
    ? [
        {
          name: 'postfix smtp-sink',
          async start(port: number) {
            const child = spawn(
              '/usr/sbin/smtp-sink',
              [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), `127.0.0.1:${port}`, '1000'],
              { stdio: ['ignore', 'ignore', 'inherit'] },
            );
            return { child };
          },
        },
      ]
    : []),
].filter((c) => !only || only.includes(c.name));

interface Measured {
  readonly rate: number;
  /** Server CPU µs per message during the load. */
  readonly cpuUs: number;
  /** Of which the main thread's (a Node server's event loop). */
  readonly mainUs: number;
  /** Including deferred work after the load (the sink's parsing); equals cpuUs for the others. */
  readonly cpuAllUs: number;
  readonly rssMiB: number;
}

interface Load {
  readonly label: string;
  readonly body: number;
  readonly reuse: boolean;
  readonly count: number;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** smtp-source's accept rate for `count` messages of the load against the server at `port`. */
async function accept(port: number, load: Load, count: number): Promise<number> {
  const args = [
    join(tools, 'smtp-accept-rate.sh'),
    `127.0.0.1:${port}`,
    String(SESSIONS),
    String(count),
    String(load.body),
  ];
  if (load.reuse) args.push('--', '-d');
  const { stdout } = await run('bash', args, {
    env: { ...process.env, ACCEPT_QUIET: '1', ACCEPT_TIMEOUT: '900' },
    timeout: 1_000_000,
  });
  return Number(stdout.trim());
}

async function measure(contender: Contender, load: Load): Promise<Measured> {
  const port = await freePort();
  const started = await contender.start(port);
  const { child } = started;
  try {
    await waitForGreeting(child, port);
    // The same warm-up for every contender, not counted, and its deferred work done before the
    // clock starts: figures of servers whose code the JIT has compiled, as in production (as
    // bench/smtp does), not of their first second.
    const warm = Math.ceil(load.count * WARMUP);
    if (warm > 0) {
      await accept(port, load, warm);
      await started.settle?.(warm);
    }
    const pid = child.pid ?? 0;
    const before = cpuSeconds(pid);
    const mainBefore = mainThreadSeconds(pid);
    const rate = await accept(port, load, load.count);
    const during = cpuSeconds(pid) - before;
    const mainDuring = mainThreadSeconds(pid) - mainBefore;
    const rss = rssBytes(pid) / 1048576;
    await started.settle?.(warm + load.count);
    const all = cpuSeconds(pid) - before;
    return {
      rate,
      cpuUs: (during * 1e6) / load.count,
      mainUs: (mainDuring * 1e6) / load.count,
      cpuAllUs: (all * 1e6) / load.count,
      rssMiB: rss,
    };
  } finally {
    await stop(child);
    started.cleanup?.();
  }
}

/** CPU seconds of a process's main thread (its task with the process's id). */
function mainThreadSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

const loads: Load[] = [
  { label: '1 KB, new connection', body: 1024, reuse: false, count: msgs },
  { label: '1 KB, reused connections', body: 1024, reuse: true, count: msgs },
  { label: '100 KB, new connection', body: 100 * 1024, reuse: false, count: bigMsgs },
  { label: '100 KB, reused connections', body: 100 * 1024, reuse: true, count: bigMsgs },
];

console.log(
  `smtp-source, ${SESSIONS} sessions; ${msgs} x 1 KB and ${bigMsgs} x 100 KB per run; median of ${rounds} rounds; node ${process.version}`,
);
for (const load of loads) {
  const results = new Map<string, Measured[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) results.get(contender.name)!.push(await measure(contender, load));
  }
  const med = (name: string, pick: (m: Measured) => number) => median((results.get(name) ?? []).map(pick));
  console.log(`\n${load.label}`);
  for (const name of results.keys()) {
    const list = (results.get(name) ?? []).map((m) => fmt(m.rate)).join(', ');
    const extra =
      name === 'mailyard sink'
        ? `, ${fmt(med(name, (m) => m.cpuAllUs)).padStart(5)} µs with parsing, event loop ${fmt(med(name, (m) => m.mainUs))} µs`
        : name === 'postfix smtp-sink'
          ? ''
          : `, event loop ${fmt(med(name, (m) => m.mainUs))} µs`;
    console.log(
      `  ${name.padEnd(18)} ${fmt(med(name, (m) => m.rate)).padStart(6)} msgs/s (${list})  ` +
        `${fmt(med(name, (m) => m.cpuUs)).padStart(5)} µs CPU/msg${extra}  RSS ${fmt(med(name, (m) => m.rssMiB))} MiB`,
    );
  }
  const sink = 'mailyard sink';
  const ratio = (other: string) => med(sink, (m) => m.rate) / med(other, (m) => m.rate);
  // Inverted so that, like the throughput ratio, higher is better.
  const cpuRatio = (other: string, pick: (m: Measured) => number) =>
    med(other, (m) => m.cpuUs) / med(sink, pick);
  if (results.has(sink)) {
    const target = load.body > 1024 ? 0.5 : 0.7;
    for (const other of ['bare smtp-server', 'maildev', '@mailyard/smtp', 'postfix smtp-sink']) {
      if (!results.has(other)) continue;
      const goal =
        other === 'bare smtp-server' ? ` (target >= ${target})` : other === 'maildev' ? ' (target >= 3)' : '';
      console.log(
        `  sink/${other}: throughput ${fmt(ratio(other), 2)}${goal}; CPU per message ${fmt(
          cpuRatio(other, (m) => m.cpuUs),
          2,
        )} (${fmt(
          cpuRatio(other, (m) => m.cpuAllUs),
          2,
        )} with parsing)${
          other === 'postfix smtp-sink'
            ? ''
            : `; event-loop CPU ${fmt(med(other, (m) => m.mainUs) / med(sink, (m) => m.mainUs), 2)}`
        }`,
      );
    }
  }
}

// --- the API over 10,000 stored messages ------------------------------------------------------

/** Sends `count` distinct messages over `sessions` plain SMTP connections (no pipelining). */
async function load(port: number, count: number, sessions: number): Promise<void> {
  let next = 0;
  const session = () =>
    new Promise<void>((resolve, reject) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.setEncoding('latin1');
      let buffer = '';
      let step = 0;
      let current = -1;
      const send = (line: string) => socket.write(`${line}\r\n`);
      const mail = () => {
        current = next++;
        if (current >= count) {
          step = 99;
          send('QUIT');
          return;
        }
        step = 1;
        send(`MAIL FROM:<sender${current}@bench.test>`);
      };
      socket.on('data', (text: string) => {
        buffer += text;
        for (;;) {
          const end = buffer.indexOf('\r\n');
          if (end < 0) return;
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (line[3] === '-') continue;
          if (!/^[23]/.test(line)) return reject(new Error(`step ${step}: ${line}`));
          if (step === 0) {
            step = 0.5;
            send('EHLO bench.test');
          } else if (step === 0.5) mail();
          else if (step === 1) {
            step = 2;
            send(`RCPT TO:<rcpt${current % 50}@bench.test>`);
          } else if (step === 2) {
            step = 3;
            send('DATA');
          } else if (step === 3) {
            step = 4;
            socket.write(
              `From: Sender ${current} <sender${current}@bench.test>\r\nTo: rcpt${current % 50}@bench.test\r\n` +
                `Subject: message ${current}\r\nMessage-ID: <m${current}@bench.test>\r\n\r\n` +
                `Hello, this is message ${current} with token${current}x in its body.\r\n${'Some filler text here. '.repeat(30)}\r\n.\r\n`,
            );
          } else if (step === 4) mail();
          else if (step === 99) socket.end();
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
  await Promise.all(Array.from({ length: sessions }, session));
}

if (!only || only.includes('mailyard sink')) {
  const dir = mkdtempSync(join(tmpdir(), 'mailyard-bench-sink-api-'));
  const port = await freePort();
  const httpPort = await freePort();
  const child = startSink(port, httpPort, dir);
  try {
    await waitForGreeting(child, port);
    let t0 = performance.now();
    await load(port, apiMsgs, SESSIONS);
    const sent = performance.now() - t0;
    t0 = performance.now();
    const total = await apiTotal(httpPort);
    console.log(
      `\nAPI over ${total} stored messages (sent in ${(sent / 1000).toFixed(1)} s; background parsing done ${((performance.now() - t0) / 1000).toFixed(1)} s later)`,
    );
    const time = async (path: string) => {
      const runs: number[] = [];
      let body = '';
      for (let i = 0; i < 7; i++) {
        t0 = performance.now();
        const response = await fetch(`http://127.0.0.1:${httpPort}${path}`);
        body = await response.text();
        runs.push(performance.now() - t0);
      }
      const json = JSON.parse(body) as { messages_count?: number; total?: number; count?: number };
      return `${median(runs).toFixed(1).padStart(6)} ms  (matched ${json.messages_count ?? json.total ?? '?'})`;
    };
    const q = encodeURIComponent;
    const last = apiMsgs - 1;
    for (const [label, path] of [
      ['Mailpit list, page 1 (50)', '/api/v1/messages?limit=50'],
      ['Mailpit list, offset 5000 (50)', '/api/v1/messages?start=5000&limit=50'],
      ['MailHog v2 list, page 1 (50)', '/api/v2/messages?limit=50'],
      [`search free text, one match (token${last}x)`, `/api/v1/search?query=${q(`token${last}x`)}`],
      ['search free text, no match', '/api/v1/search?query=nomatchtoken'],
      ['search free text, all match (filler)', '/api/v1/search?query=filler'],
      [`search subject:"message ${last}"`, `/api/v1/search?query=${q(`subject:"message ${last}"`)}`],
      [`search from:sender${last}@`, `/api/v1/search?query=${q(`from:sender${last}@`)}`],
      ['search is:unread', '/api/v1/search?query=is%3Aunread'],
    ] as const) {
      console.log(`  ${label.padEnd(44)} ${await time(path)}`);
    }
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}
