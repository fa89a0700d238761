// bench/smtp: messages per second accepted by createSmtpServer with a discarding backend,
// against bare smtp-server with the same backend and its 100 ms greeting pause removed
// (../shared/tools/bare-smtp-server.js), under Postfix's smtp-source (../shared/tools/smtp-accept-rate.sh).
// Two loads: a new connection per message, and reused connections. Rounds alternate between the
// two servers and the median of each is compared, so machine drift hits both alike.
// Target (issue 2): ratio >= 0.90 on each load.
//
// Usage: pnpm bench smtp      (env: BENCH_MESSAGES=10000 BENCH_ROUNDS=3 BENCH_SESSIONS=20)

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const here = import.meta.dirname;
const tools = resolve(process.env.MAILYARD_SHARED_TOOLS ?? join(here, '..', '..', '..', 'shared', 'tools'));
const messages = Number(process.env.BENCH_MESSAGES ?? 10_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sessions = Number(process.env.BENCH_SESSIONS ?? 20);

if (!existsSync(join(tools, 'smtp-accept-rate.sh')) || !existsSync('/usr/sbin/smtp-source')) {
  console.error(`needs ${tools}/smtp-accept-rate.sh and /usr/sbin/smtp-source (apt-get install postfix)`);
  process.exit(2);
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

async function waitForGreeting(child: ChildProcess, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port} && head -c 3 <&3`], { timeout: 2000 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no greeting on port ${port}`);
}

interface Contender {
  readonly name: string;
  start(port: number): ChildProcess;
}

// The baseline script require()s smtp-server: point NODE_PATH at the node_modules that holds ours.
const smtpServerEntry = fileURLToPath(import.meta.resolve('smtp-server'));
const nodePath = smtpServerEntry.slice(
  0,
  smtpServerEntry.lastIndexOf('/node_modules/') + '/node_modules'.length,
);
const contenders: Contender[] = [
  {
    name: '@mailyard/smtp',
    start: (port) =>
      spawn(process.execPath, ['--conditions=source', join(here, 'discard-server.ts'), String(port)], {
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
  },
  {
    name: 'bare smtp-server',
    start: (port) =>
      spawn(process.execPath, [join(tools, 'bare-smtp-server.js'), String(port), 'drain'], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, NO_GREETING_DELAY: '1', NODE_PATH: nodePath },
      }),
  },
];

async function measure(contender: Contender, reuse: boolean): Promise<number> {
  const port = await freePort();
  const child = contender.start(port);
  try {
    await waitForGreeting(child, port);
    const args = [
      join(tools, 'smtp-accept-rate.sh'),
      `127.0.0.1:${port}`,
      String(sessions),
      String(messages),
      '1024',
    ];
    if (reuse) args.push('--', '-d');
    const { stdout } = await run('bash', args, {
      env: { ...process.env, ACCEPT_QUIET: '1' },
      timeout: 600_000,
    });
    return Number(stdout.trim());
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

let worst = Number.POSITIVE_INFINITY;
for (const reuse of [false, true]) {
  const results = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
      results.get(contender.name)?.push(await measure(contender, reuse));
    }
  }
  const ours = median(results.get('@mailyard/smtp') ?? []);
  const bare = median(results.get('bare smtp-server') ?? []);
  const ratio = ours / bare;
  worst = Math.min(worst, ratio);
  const load = reuse ? 'reused connections' : 'new connection per message';
  console.log(`load: ${load}, ${sessions} sessions, ${messages} x 1 KB, median of ${rounds} rounds`);
  for (const [name, values] of results) {
    console.log(
      `  ${name.padEnd(18)} ${median(values).toFixed(0).padStart(7)} msgs/s   (${values.map((v) => v.toFixed(0)).join(', ')})`,
    );
  }
  console.log(`  ratio ${ratio.toFixed(3)} (target >= 0.90) ${ratio >= 0.9 ? 'ok' : 'BELOW TARGET'}`);
}
process.exitCode = worst >= 0.9 ? 0 : 1;
