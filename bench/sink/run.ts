// Sink benchmark: messages/s accepted under Postfix smtp-source (tools/smtp-accept-rate.sh), for
// `mailyard sink` next to bare smtp-server (pause removed, discarding) and Postfix smtp-sink, in
// one run, as ratios; then the time to list and search the stored messages through the API.
// Run: pnpm exec node --conditions=source bench/sink/run.ts   (env: BENCH_MSGS, BENCH_BIG_MSGS)

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const tools = join(root, '../shared/tools');
const msgs = Number(process.env.BENCH_MSGS ?? 5000);
const bigMsgs = Number(process.env.BENCH_BIG_MSGS ?? 1000);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForGreeting(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      await run('bash', [
        '-c',
        `exec 3<>/dev/tcp/127.0.0.1/${port} && IFS= read -r -t 2 line <&3 && [[ $line == 220* ]]`,
      ]);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`port ${port}: no greeting`);
}

interface Target {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

async function start(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Target> {
  const port = await freePort();
  const child = spawn(
    command,
    args.map((a) => a.replace('{PORT}', String(port))),
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitForGreeting(port);
  return { name, port, child };
}

async function rate(port: number, count: number, body: number, reuse: boolean): Promise<number> {
  const args = [join(tools, 'smtp-accept-rate.sh'), `127.0.0.1:${port}`, '20', String(count), String(body)];
  if (reuse) args.push('--', '-d');
  const { stdout } = await run('bash', args, {
    env: { ...process.env, ACCEPT_QUIET: '1' },
    timeout: 900_000,
  });
  return Number(stdout.trim());
}

const data = mkdtempSync(join(tmpdir(), 'mailyard-bench-sink-'));
const httpPort = await freePort();
const node = process.execPath;
const targets: Target[] = [];
try {
  targets.push(
    await start('mailyard sink', node, [
      '--conditions=source',
      'apps/cli/src/main.ts',
      'sink',
      '--smtp',
      '127.0.0.1:{PORT}',
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--database',
      join(data, 'sink.db'),
      '--max',
      '0',
      '--no-verdicts',
    ]),
  );
  const smtpServerDir = join(root, 'packages/smtp/node_modules');
  targets.push(
    await start('bare smtp-server', node, [join(tools, 'bare-smtp-server.js'), '{PORT}', 'drain'], {
      NO_GREETING_DELAY: '1',
      NODE_PATH: smtpServerDir,
    }),
  );
  if (existsSync('/usr/sbin/smtp-sink')) {
    targets.push(
      await start('postfix smtp-sink', '/usr/sbin/smtp-sink', [
        ...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []),
        '127.0.0.1:{PORT}',
        '1000',
      ]),
    );
  }
  const loads = [
    { label: '1 KB, new connection', body: 1024, reuse: false, count: msgs },
    { label: '1 KB, reused connection', body: 1024, reuse: true, count: msgs },
    { label: '100 KB, new connection', body: 100 * 1024, reuse: false, count: bigMsgs },
    { label: '100 KB, reused connection', body: 100 * 1024, reuse: true, count: bigMsgs },
  ];
  console.log(`smtp-source, 20 sessions; ${msgs} x 1 KB and ${bigMsgs} x 100 KB messages per load`);
  for (const load of loads) {
    const results: Record<string, number> = {};
    for (const target of targets)
      results[target.name] = await rate(target.port, load.count, load.body, load.reuse);
    const sink = results['mailyard sink'] ?? 0;
    const bare = results['bare smtp-server'] ?? 0;
    const ceiling = results['postfix smtp-sink'] ?? 0;
    console.log(
      `${load.label.padEnd(26)} ${Object.entries(results)
        .map(([k, v]) => `${k} ${v.toFixed(0)}/s`)
        .join(
          ' | ',
        )} | sink/bare ${(sink / bare).toFixed(2)}${ceiling ? ` | sink/smtp-sink ${(sink / ceiling).toFixed(2)}` : ''}`,
    );
  }
  // API timings over everything stored (the first call waits for background parsing).
  const base = `http://127.0.0.1:${httpPort}`;
  let t0 = performance.now();
  const first = (await (await fetch(`${base}/api/v1/messages?limit=50`)).json()) as { total: number };
  console.log(
    `stored ${first.total} messages; background parsing finished after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const time = async (path: string) => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      await (await fetch(`${base}${path}`)).arrayBuffer();
      runs.push(performance.now() - t0);
    }
    runs.sort((a, b) => a - b);
    return runs[2]!.toFixed(1);
  };
  console.log(`list (page 1, 50 items): ${await time('/api/v1/messages?limit=50')} ms median`);
  console.log(`list (page at offset 4000): ${await time('/api/v1/messages?start=4000&limit=50')} ms median`);
  console.log(`search (free text, no match): ${await time('/api/v1/search?query=nomatchtoken')} ms median`);
  console.log(
    `search (from: + is:unread): ${await time('/api/v1/search?query=from:bench%20is:unread')} ms median`,
  );
  console.log('MailDev: not measured (not installed here)');
} finally {
  for (const target of targets) target.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(data, { recursive: true, force: true });
}
