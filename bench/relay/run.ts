// bench/relay: end-to-end relaying throughput, Mailyard's relay against Postfix in the same run.
// Postfix's smtp-source submits (plain SMTP, 20 sessions, 1 KB and 100 KB, with and without
// connection reuse) to the relay's trusted listener (127.0.0.0/8 trusted), which looks up the MX
// in a loopback DNS server and delivers to Postfix's smtp-sink; messages per second are counted
// at the sink (its -c counters). Postfix itself — a private instance with its own config and
// queue directories under a temp dir, on loopback ports, relayhost = the same kind of sink —
// does the same work. A second figure: pooled nodemailer clients with AUTH over STARTTLS.
// Run (as root, Postfix installed): pnpm exec node --conditions=source bench/relay/run.ts [--messages 2000]
//   [--sizes 1024,102400] [--conns reuse,one] [--quick]; RELAY_PROFILE=dir runs the relay under
//   --cpu-prof; BENCH_PAUSE=seconds waits that long after start (pid and ports printed). CPU ms/msg: the relay process vs Postfix's master and all its children, per message.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { addUser } from '../../apps/relay/src/users-file.ts';
import { startDns } from '../../tooling/testkit/src/dns-server.ts';
import { createTestCertificate } from '../../tooling/testkit/src/tls.ts';
import { freePort, rssBytes } from '../lib/harness.ts';
import { type SmtpSink, startSmtpSink } from '../lib/smtp-sink.ts';
import { treeCpuSeconds } from './process-cpu.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '20' },
    sizes: { type: 'string', default: '1024,102400' },
    // `reuse`, `one` (one connection per message) or both.
    conns: { type: 'string', default: 'reuse,one' },
    // Only the throughput table: no nodemailer figure, no 50 MB message.
    quick: { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const root = resolve(import.meta.dirname, '../..');
const CLI = join(root, 'apps/cli/src/main.ts');
const dir = mkdtempSync(join(tmpdir(), 'mailyard-bench-relay-'));
// Postfix's unprivileged processes must reach their data directory inside it.
chmodSync(dir, 0o755);
const children: ChildProcess[] = [];
let postfixDir: string | null = null;

/** A Postfix smtp-sink (bench/lib), stopped with the other children at the end. */
async function startSink(): Promise<SmtpSink> {
  const sink = await startSmtpSink();
  children.push(sink.child);
  return sink;
}

function startPostfix(smtpPort: number, sinkPort: number): void {
  postfixDir = join(dir, 'postfix');
  const etc = join(postfixDir, 'etc');
  for (const d of ['etc', 'spool', 'data']) mkdirSync(join(postfixDir, d), { recursive: true });
  chownSync(join(postfixDir, 'data'), Number(execFileSync('id', ['-u', 'postfix']).toString()), 0);
  writeFileSync(
    join(etc, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${postfixDir}/spool`,
      `data_directory = ${postfixDir}/data`,
      'mail_owner = postfix',
      'myhostname = bench-postfix.test',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      `relayhost = [127.0.0.1]:${sinkPort}`,
      'mydestination =',
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      `maillog_file_prefixes = ${postfixDir}`,
      `maillog_file = ${postfixDir}/maillog`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(etc, 'master.cf'),
    [
      `127.0.0.1:${smtpPort} inet n - n - - smtpd`,
      'pickup unix n - n 60 1 pickup',
      'cleanup unix n - n - 0 cleanup',
      'qmgr unix n - n 300 1 qmgr',
      'rewrite unix - - n - - trivial-rewrite',
      'bounce unix - - n - 0 bounce',
      'defer unix - - n - 0 bounce',
      'trace unix - - n - 0 bounce',
      'verify unix - - n - 1 verify',
      'flush unix n - n 1000? 0 flush',
      'proxymap unix - - n - - proxymap',
      'proxywrite unix - - n - 1 proxymap',
      'smtp unix - - n - - smtp',
      'relay unix - - n - - smtp',
      'showq unix n - n - - showq',
      'error unix - - n - - error',
      'retry unix - - n - - error',
      'discard unix - - n - - discard',
      'anvil unix - - n - 1 anvil',
      'scache unix - - n - 1 scache',
      'postlog unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  execFileSync('postfix', ['-c', etc, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

let relayPid = 0;

/** Postfix's master: every other Postfix process is its child. */
function postfixMasterPid(): number {
  return Number(readFileSync(join(postfixDir ?? '', 'spool/pid/master.pid'), 'latin1').trim());
}

/** Relays one message of `size` octets; returns the relay's peak RSS above its idle RSS. */
async function peakMemory(port: number, sink: { count: () => number }, size: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 2000));
  const idle = rssBytes(relayPid);
  let peak = idle;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(relayPid));
  }, 10);
  const before = sink.count();
  await new Promise<void>((done, fail) => {
    const args = [
      '-s',
      '1',
      '-m',
      '1',
      '-l',
      String(size),
      '-f',
      'sender@example.org',
      '-t',
      'rcpt@sink.test',
    ];
    const source = spawn('smtp-source', [...args, `127.0.0.1:${port}`], { stdio: 'inherit' });
    source.once('exit', (code) => (code === 0 ? done() : fail(new Error(`smtp-source exited with ${code}`))));
  });
  while (sink.count() === before) await new Promise((r) => setTimeout(r, 10));
  clearInterval(timer);
  return peak - idle;
}

async function startRelay(
  trustedPort: number,
  submissionPort: number,
  sinkPort: number,
  dnsAddress: string,
): Promise<void> {
  const relayDir = join(dir, 'relay');
  mkdirSync(relayDir, { recursive: true });
  const { key, cert } = await createTestCertificate();
  writeFileSync(join(relayDir, 'key.pem'), key);
  writeFileSync(join(relayDir, 'cert.pem'), cert);
  await addUser(join(relayDir, 'users.txt'), 'bench', 'bench password');
  writeFileSync(
    join(relayDir, 'relay.yaml'),
    [
      'hostname: bench-relay.test',
      'dataDir: data',
      'tls: { cert: cert.pem, key: key.pem }',
      'listeners:',
      `  trusted: { listen: "127.0.0.1:${trustedPort}", networks: [127.0.0.0/8] }`,
      `  submission: { listen: "127.0.0.1:${submissionPort}" }`,
      'users: { file: users.txt, grants: { bench: ["*"] } }',
      `dns: { servers: ["${dnsAddress}"] }`,
      `delivery: { port: ${sinkPort}, concurrency: 100, perNextHop: 20, reuseIdle: 5s, mtaSts: false, poll: 200ms }`,
      'queue: { maxMessageSize: 62914560 }',
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [
      ...(process.env.RELAY_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RELAY_PROFILE}`] : []),
      '--conditions=source',
      CLI,
      'relay',
      '--config',
      join(relayDir, 'relay.yaml'),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  relayPid = child.pid ?? 0;
  await new Promise<void>((done, fail) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) done();
    });
    child.once('exit', (code) => fail(new Error(`relay exited with ${code}: ${out}`)));
  });
}

/** Sends MESSAGES with smtp-source and waits until the sink has them all; messages/s delivered. */
async function measure(
  port: number,
  sink: { count: () => number },
  size: number,
  reuse: boolean,
  cpu: () => number = () => 0,
): Promise<{ rate: number; cpuMs: number }> {
  const before = sink.count();
  const cpuBefore = cpu();
  const start = performance.now();
  const args = [
    '-s',
    String(SESSIONS),
    '-m',
    String(MESSAGES),
    '-l',
    String(size),
    '-f',
    'sender@example.org',
    '-t',
    'rcpt@sink.test',
  ];
  if (reuse) args.push('-d');
  await new Promise<void>((done, fail) => {
    const source = spawn('smtp-source', [...args, `127.0.0.1:${port}`], { stdio: 'inherit' });
    source.once('exit', (code) => (code === 0 ? done() : fail(new Error(`smtp-source exited with ${code}`))));
  });
  if (process.env.BENCH_VERBOSE)
    console.log(
      `  accepted ${MESSAGES} in ${((performance.now() - start) / 1000).toFixed(2)} s, ${sink.count() - before} delivered by then`,
    );
  const deadline = performance.now() + 300_000;
  while (sink.count() - before < MESSAGES) {
    if (performance.now() > deadline) throw new Error(`only ${sink.count() - before} of ${MESSAGES} arrived`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    rate: MESSAGES / ((performance.now() - start) / 1000),
    cpuMs: ((cpu() - cpuBefore) * 1000) / MESSAGES,
  };
}

async function measureNodemailer(port: number, sink: { count: () => number }, size: number): Promise<number> {
  const require = createRequire(join(root, 'apps/relay/package.json'));
  const nodemailer = require('nodemailer') as {
    createTransport(o: object): { sendMail(m: object): Promise<unknown>; close(): void };
  };
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: SESSIONS,
    maxMessages: Number.POSITIVE_INFINITY,
    host: '127.0.0.1',
    port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'bench', pass: 'bench password' },
  });
  const raw = `From: sender@example.org\r\nTo: rcpt@sink.test\r\nSubject: bench\r\n\r\n${'x'
    .repeat(76)
    .concat('\r\n')
    .repeat(Math.ceil(size / 78))
    .slice(0, size)}\r\n`;
  const before = sink.count();
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SESSIONS }, async () => {
      while (next < MESSAGES) {
        next++;
        await transport.sendMail({ envelope: { from: 'sender@example.org', to: ['rcpt@sink.test'] }, raw });
      }
    }),
  );
  transport.close();
  while (sink.count() - before < MESSAGES) await new Promise((r) => setTimeout(r, 10));
  return MESSAGES / ((performance.now() - start) / 1000);
}

try {
  const relaySink = await startSink();
  const postfixSink = await startSink();
  const dns = await startDns({
    'sink.test': { MX: [{ priority: 10, exchange: 'mx.sink.test' }] },
    'mx.sink.test': { A: ['127.0.0.1'] },
  });
  const [relayPort, submissionPort, postfixPort] = [await freePort(), await freePort(), await freePort()];
  await startRelay(relayPort, submissionPort, relaySink.port, dns.address);
  startPostfix(postfixPort, postfixSink.port);
  await new Promise((r) => setTimeout(r, 1000));
  if (process.env.BENCH_PAUSE) {
    // Time to point strace or a probe at both: the relay's pid and ports, Postfix's port.
    console.log(`relay pid ${relayPid} port ${relayPort}; postfix port ${postfixPort}`);
    await new Promise((r) => setTimeout(r, Number(process.env.BENCH_PAUSE) * 1000));
  }
  // Memory first, while the relay is fresh: after thousands of messages its heap has grown to
  // where one more large message adds nothing, which would measure nothing.
  const peak = values.quick ? 0 : await peakMemory(relayPort, relaySink, 50 * 1024 * 1024);
  // Warm-up: connections, JIT, Postfix's processes.
  await measure(relayPort, relaySink, 1024, true);
  await measure(postfixPort, postfixSink, 1024, true);

  console.log(
    `relaying ${MESSAGES} messages over ${SESSIONS} sessions, delivered messages/s counted at smtp-sink`,
  );
  console.log(
    'load                          mailyard   postfix   ratio   CPU ms/msg: mailyard  postfix (smtpd+cleanup+qmgr+smtp+...)',
  );
  const relayCpu = (): number => treeCpuSeconds(relayPid);
  const postfixCpu = (): number => treeCpuSeconds(postfixMasterPid());
  for (const size of values.sizes.split(',').map(Number)) {
    for (const reuse of values.conns.split(',').map((c) => c === 'reuse')) {
      const ours = await measure(relayPort, relaySink, size, reuse, relayCpu);
      const theirs = await measure(postfixPort, postfixSink, size, reuse, postfixCpu);
      const label = `${size / 1024} KB, ${reuse ? 'reuse' : 'one conn/msg'}`;
      console.log(
        `${label.padEnd(28)}  ${ours.rate.toFixed(0).padStart(8)}  ${theirs.rate.toFixed(0).padStart(8)}  ${(ours.rate / theirs.rate).toFixed(2).padStart(6)}   ${ours.cpuMs.toFixed(2).padStart(19)}  ${theirs.cpuMs.toFixed(2).padStart(7)}`,
      );
    }
  }
  if (!values.quick) {
    const authed = await measureNodemailer(submissionPort, relaySink, 1024);
    console.log(
      `nodemailer pool (${SESSIONS} conns), AUTH over STARTTLS, 1 KB: mailyard ${authed.toFixed(0)} messages/s`,
    );
    console.log(
      `one 50 MB message (relayed first, in the fresh relay): peak RSS ${(peak / 1048576).toFixed(1)} MB above idle (target <= 64 MB)`,
    );
  }
  await dns.close();
} finally {
  if (postfixDir) {
    try {
      execFileSync('postfix', ['-c', join(postfixDir, 'etc'), 'stop'], { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  }
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}
