// bench/auth: DKIM sign and verify cost of @mailyard/auth against calling mailauth directly, for
// 10 KB and 1 MB messages with rsa-2048 and ed25519 keys. Goal: the wrapper costs no more than 10%.
//
// What each side does (identical inputs, keys and in-memory resolver on both sides):
// - sign:   signDkim(message, key)  vs  mailauth dkimSign(message, { signatureData: [key] });
//           one relaxed/relaxed rsa-sha256 or ed25519-sha256 signature each.
// - verify: verify(message, { clientIp, helo, envelope, resolver, authservId })  vs  mailauth
//           authenticate(message, { ip, helo, sender, mta, resolver, disableBimi: true }).
//           Both run DKIM, SPF (MAIL FROM), ARC and DMARC and build an Authentication-Results
//           header; neither runs BIMI or seals. Both make the same DNS lookups (counted per
//           operation and printed in the DNS/op column).
//
// Three measurements per case:
// A. Throughput (wall clock): both sides in this process, alternating in 100 ms rounds (and
//    alternating which side goes first) so that machine load and GC debt hit both alike.
// B. Main-thread CPU per operation in those same rounds (process.threadCpuUsage()).
// C. Process CPU per operation: each side alone in a fresh child process (--warm-ms of CPU of
//    warm-up, then four blocks of operations worth --cpu-ms of CPU), user+system CPU of all
//    threads from process.cpuUsage() divided by operations. Children run one at a time, sides
//    alternating, --rounds times; the median per side is kept, and the least-disturbed block is printed too.
// On a loaded host wall-clock ratios (A) swing by tens of percent; B and C move much less.
//
// Run from /work/main:
//   pnpm exec node --conditions=source bench/auth/run.ts [--seconds 1.2] [--rounds 5]
//     [--cpu-ms 800] [--warm-ms 1000] [--op sign|verify|all] [--json]

import { execFileSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  createStaticResolver,
  dkimDnsRecord,
  generateDkimKey,
  type Resolver,
  signDkim,
  verify,
} from '@mailyard/auth';
import { authenticate, dkimSign } from 'mailauth';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1.2' },
    rounds: { type: 'string', default: '5' },
    'cpu-ms': { type: 'string', default: '800' },
    op: { type: 'string', default: 'all' },
    'warm-ms': { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

type KeyType = 'rsa' | 'ed25519';
type OpName = 'sign' | 'verify';
type Side = 'wrapper' | 'mailauth';
type Keys = Record<KeyType, { privateKey: string }>;
type Op = () => Promise<unknown>;

const SIZES = { '10 KB': 10 * 1024, '1 MB': 1024 * 1024 } as const;
type SizeLabel = keyof typeof SIZES;

function message(size: number): Buffer {
  const head =
    'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: bench\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@example.org>\r\n\r\n';
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
  return Buffer.from(head + line.repeat(Math.ceil((size - head.length) / line.length)));
}

/** The same in-memory zone for both sides, wrapped so that every lookup is counted. */
function zoneResolver(keys: Keys): { resolver: Resolver; lookups: string[] } {
  const zone: Record<string, { TXT: string[] }> = {
    'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
  };
  for (const [type, key] of Object.entries(keys)) {
    const record = dkimDnsRecord({ domain: 'example.org', selector: type, key: key.privateKey });
    zone[record.name] = { TXT: [record.value] };
  }
  const inner = createStaticResolver(zone);
  const lookups: string[] = [];
  const resolver: Resolver = (name, rrtype) => {
    lookups.push(`${rrtype} ${name}`);
    return inner(name, rrtype);
  };
  return { resolver, lookups };
}

/** Both sides' operation for one case, on the same message, key and resolver. */
async function caseOps(
  keys: Keys,
  resolver: Resolver,
  op: OpName,
  size: SizeLabel,
  type: KeyType,
): Promise<Record<Side, Op>> {
  const body = message(SIZES[size]);
  const privateKey = keys[type].privateKey;
  if (op === 'sign') {
    return {
      wrapper: () => signDkim(body, { domain: 'example.org', selector: type, privateKey }),
      // mailauth signs only what is listed in signatureData (top-level keys sign nothing).
      mailauth: async () => {
        const result = await dkimSign(body, {
          signatureData: [{ signingDomain: 'example.org', selector: type, privateKey }],
        } as never);
        if (!result.signatures) throw new Error('mailauth made no signature');
      },
    };
  }
  const signed = Buffer.concat([
    Buffer.from(await signDkim(body, { domain: 'example.org', selector: type, privateKey })),
    body,
  ]);
  const wrapper = async () => {
    const verdict = await verify(signed, {
      resolver,
      authservId: 'mx.example.net',
      clientIp: '192.0.2.10',
      helo: 'mail.example.org',
      envelope: { mailFrom: { localPart: 'alice', domain: 'example.org' } },
    });
    if (verdict.dkim[0]?.result !== 'pass' || verdict.dmarc.result !== 'pass')
      throw new Error('wrapper: no pass');
  };
  const mailauth = async () => {
    const result = await authenticate(signed, {
      ip: '192.0.2.10',
      helo: 'mail.example.org',
      sender: 'alice@example.org',
      mta: 'mx.example.net',
      resolver: resolver as never,
      disableBimi: true,
    });
    if (
      result.dkim.results[0]?.status.result !== 'pass' ||
      (result.dmarc ? result.dmarc.status.result : 'none') !== 'pass'
    )
      throw new Error('mailauth: no pass');
  };
  return { wrapper, mailauth };
}

// ---- child: one side of one case, CPU per operation -------------------------------------------

function cpuNow(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function runChild(spec: string): Promise<void> {
  const [op, size, type, side] = spec.split(':') as [OpName, SizeLabel, KeyType, Side];
  const keys = JSON.parse(await new Response(process.stdin as never).text()) as Keys;
  const { resolver, lookups } = zoneResolver(keys);
  const run = (await caseOps(keys, resolver, op, size, type))[side];
  const budget = Number(values['cpu-ms']) * 1000;
  // Warm-up (at least --warm-ms of CPU and 20 operations): until the JIT has finished its tiers,
  // background compilation and GC inflate the first operations of a process, and a short
  // warm-up made 1 MB verification look 8-22% dearer on whichever side it happened to hit most.
  // It also sizes the blocks below.
  const warmStart = cpuNow();
  const warmBudget = Number(values['warm-ms']) * 1000;
  let warmOps = 0;
  while (warmOps < 20 || cpuNow() - warmStart < warmBudget) {
    await run();
    warmOps++;
  }
  const perOp = (cpuNow() - warmStart) / warmOps;
  lookups.length = 0;
  // Four blocks of a fixed number of operations, a quarter of the budget each, with the clock read
  // only around a block (reading it after every operation cost a tenth of a 10 KB verification).
  // The best block is the cost with the least interference from other processes: load only ever
  // adds CPU time (cache misses, migrations), never removes it.
  const blockOps = Math.max(2, Math.round(budget / 4 / perOp));
  const blocks: number[] = [];
  const threadStart = threadCpuNow();
  for (let block = 0; block < 4; block++) {
    const start = cpuNow();
    for (let i = 0; i < blockOps; i++) await run();
    blocks.push((cpuNow() - start) / blockOps);
  }
  const ops = blockOps * blocks.length;
  const result: ChildResult = {
    ops,
    cpuUs: blocks.reduce((sum, x) => sum + x, 0) / blocks.length,
    bestBlockUs: Math.min(...blocks),
    mainThreadUs: (threadCpuNow() - threadStart) / ops,
    lookupsPerOp: lookups.length / ops,
  };
  process.stdout.write(JSON.stringify(result));
}

// ---- parent -----------------------------------------------------------------------------------

function threadCpuNow(): number {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
}

interface RaceResult {
  /** Operations per second of wall-clock time, per side. */
  readonly rates: [number, number];
  /** Main-thread CPU µs per operation, per side (same process, same rounds). */
  readonly threadCpuUs: [number, number];
}

/** Runs a and b alternately in rounds until each has had `seconds`; returns operations per second. */
async function race(a: Op, b: Op, seconds: number): Promise<RaceResult> {
  const sides = [
    { op: a, time: 0, cpu: 0, count: 0 },
    { op: b, time: 0, cpu: 0, count: 0 },
  ];
  // Warm-up: both sides, alternating, for half a second (at least three operations each).
  const warmUntil = performance.now() + 500;
  for (let warm = 0; warm < 3 || performance.now() < warmUntil; warm++)
    for (const side of sides) await side.op();
  let round = 0;
  while (sides.some((side) => side.time < seconds * 1000)) {
    const order = round++ % 2 === 0 ? sides : [...sides].reverse();
    for (const side of order) {
      const started = performance.now();
      const cpuStarted = threadCpuNow();
      const until = started + 100;
      do {
        await side.op();
        side.count++;
      } while (performance.now() < until);
      side.time += performance.now() - started;
      side.cpu += threadCpuNow() - cpuStarted;
    }
  }
  const [first, second] = sides.map((side) => side.count / (side.time / 1000));
  const [cpuFirst, cpuSecond] = sides.map((side) => side.cpu / side.count);
  return { rates: [first ?? 0, second ?? 0], threadCpuUs: [cpuFirst ?? 0, cpuSecond ?? 0] };
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

interface ChildResult {
  readonly ops: number;
  /** CPU µs per operation over the whole measurement. */
  readonly cpuUs: number;
  /** CPU µs per operation in the child's least disturbed quarter. */
  readonly bestBlockUs: number;
  /** Main-thread share of cpuUs (the rest is GC helpers, background JIT, libuv). */
  readonly mainThreadUs: number;
  readonly lookupsPerOp: number;
}

function child(keys: Keys, spec: string): ChildResult {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--child', spec, '--cpu-ms', String(values['cpu-ms'])],
    { input: JSON.stringify(keys), encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return JSON.parse(out) as ChildResult;
}

interface Row {
  op: OpName;
  size: SizeLabel;
  key: KeyType;
  /** Throughput, messages per second (wall clock, same process, alternating rounds). */
  wrapper: number;
  mailauth: number;
  /** mailauth rate / wrapper rate - 1: the wrapper's cost in wall-clock throughput. */
  overhead: number;
  /** Main-thread CPU µs/op during the throughput rounds (same process), and their ratio - 1. */
  wrapperThreadUs: number;
  mailauthThreadUs: number;
  threadOverhead: number;
  /** Median CPU microseconds per operation, each side alone in its own child processes. */
  wrapperCpuUs: number;
  mailauthCpuUs: number;
  /** wrapper CPU / mailauth CPU - 1: the wrapper's cost in CPU per operation. */
  cpuOverhead: number;
  /** Least CPU µs/op of any quarter of any child per side, and their ratio - 1. */
  wrapperBestUs: number;
  mailauthBestUs: number;
  bestOverhead: number;
  /** Every child's CPU µs/op, in run order, to show the spread. */
  cpuSamples: Record<Side, number[]>;
  /** Median main-thread CPU µs/op of the children (C without other threads). */
  mainThreadUs: Record<Side, number>;
  dnsLookupsPerOp: Record<Side, number>;
}

async function main(): Promise<void> {
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const ops: OpName[] = values.op === 'all' ? ['sign', 'verify'] : [values.op as OpName];
  const keys: Keys = {
    rsa: generateDkimKey({ type: 'rsa', bits: 2048 }),
    ed25519: generateDkimKey({ type: 'ed25519' }),
  };
  const { resolver } = zoneResolver(keys);
  const rows: Row[] = [];
  for (const size of Object.keys(SIZES) as SizeLabel[]) {
    for (const key of ['rsa', 'ed25519'] as const) {
      for (const op of ops) {
        const sides = await caseOps(keys, resolver, op, size, key);
        const raced = await race(sides.wrapper, sides.mailauth, seconds);
        const [wrapper, mailauth] = raced.rates;
        const [wrapperThreadUs, mailauthThreadUs] = raced.threadCpuUs;
        const samples: Record<Side, ChildResult[]> = { wrapper: [], mailauth: [] };
        for (let round = 0; round < rounds; round++) {
          const order: Side[] = round % 2 === 0 ? ['wrapper', 'mailauth'] : ['mailauth', 'wrapper'];
          for (const side of order) samples[side].push(child(keys, `${op}:${size}:${key}:${side}`));
        }
        const wrapperCpuUs = median(samples.wrapper.map((s) => s.cpuUs));
        const mailauthCpuUs = median(samples.mailauth.map((s) => s.cpuUs));
        const wrapperBestUs = Math.min(...samples.wrapper.map((s) => s.bestBlockUs));
        const mailauthBestUs = Math.min(...samples.mailauth.map((s) => s.bestBlockUs));
        rows.push({
          op,
          size,
          key,
          wrapper,
          mailauth,
          overhead: mailauth / wrapper - 1,
          wrapperThreadUs,
          mailauthThreadUs,
          threadOverhead: wrapperThreadUs / mailauthThreadUs - 1,
          wrapperCpuUs,
          mailauthCpuUs,
          cpuOverhead: wrapperCpuUs / mailauthCpuUs - 1,
          wrapperBestUs,
          mailauthBestUs,
          bestOverhead: wrapperBestUs / mailauthBestUs - 1,
          mainThreadUs: {
            wrapper: median(samples.wrapper.map((s) => s.mainThreadUs)),
            mailauth: median(samples.mailauth.map((s) => s.mainThreadUs)),
          },
          cpuSamples: {
            wrapper: samples.wrapper.map((s) => Math.round(s.cpuUs)),
            mailauth: samples.mailauth.map((s) => Math.round(s.cpuUs)),
          },
          dnsLookupsPerOp: {
            wrapper: samples.wrapper[0]?.lookupsPerOp ?? 0,
            mailauth: samples.mailauth[0]?.lookupsPerOp ?? 0,
          },
        });
      }
    }
  }

  if (values.json) {
    console.log(JSON.stringify({ seconds, rounds, node: process.version, rows }, null, 2));
    return;
  }
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`.padStart(7);
  const us = (x: number) => x.toFixed(0).padStart(6);
  console.log(
    `DKIM sign/verify, node ${process.version}, load ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} CPUs.`,
  );
  console.log(
    `A: throughput, both sides in one process, ${seconds}s each, alternating 100 ms rounds (wall clock).`,
  );
  console.log('B: main-thread CPU per op in those same rounds (process.threadCpuUsage).');
  console.log(
    `C: process CPU per op (user+system, all threads), each side alone in ${rounds} child processes of ${values['cpu-ms']} ms CPU; median.`,
  );
  console.log('cost = how much more the wrapper needs than mailauth (negative: the wrapper is cheaper).');
  console.log('');
  console.log(
    '                       A msg/s                      | B CPU µs/op            | C CPU µs/op            |',
  );
  console.log(
    'op     size   key      wrapper mailauth   cost | wrapper mailauth   cost | wrapper mailauth   cost | DNS/op',
  );
  for (const r of rows) {
    console.log(
      `${r.op.padEnd(6)} ${r.size.padEnd(6)} ${r.key.padEnd(8)} ${r.wrapper.toFixed(1).padStart(7)} ${r.mailauth.toFixed(1).padStart(8)} ${pct(r.overhead)} | ${us(r.wrapperThreadUs)}   ${us(r.mailauthThreadUs)} ${pct(r.threadOverhead)} | ${us(r.wrapperCpuUs)}   ${us(r.mailauthCpuUs)} ${pct(r.cpuOverhead)} | ${r.dnsLookupsPerOp.wrapper}/${r.dnsLookupsPerOp.mailauth}`,
    );
  }
  console.log('');
  console.log(
    'C per child, µs/op; "best": the least-disturbed quarter of any child; "main thread": C without GC/JIT/libuv threads:',
  );
  for (const r of rows)
    console.log(
      `  ${r.op} ${r.size} ${r.key}: wrapper ${r.cpuSamples.wrapper.join(' ')} | mailauth ${r.cpuSamples.mailauth.join(' ')} | best ${r.wrapperBestUs.toFixed(0)} vs ${r.mailauthBestUs.toFixed(0)} (${pct(r.bestOverhead).trim()}) | main thread ${r.mainThreadUs.wrapper.toFixed(0)} vs ${r.mainThreadUs.mailauth.toFixed(0)} (${pct(r.mainThreadUs.wrapper / r.mainThreadUs.mailauth - 1).trim()})`,
    );
}

if (values.child) await runChild(values.child);
else await main();
