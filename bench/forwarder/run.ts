// bench/forwarder: forwarding throughput against plain relaying, in one run (issue #8's benchmark:
// the forwarder must reach at least 0.5x the relay's messages per second).
// Both servers get the same 1 KB message, DKIM-signed once up front by nodemailer (so no client
// signs during the run), from Postfix's smtp-source over 20 reused plain-SMTP sessions, and both
// deliver to their own Postfix smtp-sink; messages per second count delivered messages (time until
// the sink has them all). The relay takes it on its trusted listener and DKIM-signs it for the
// From domain at delivery. The forwarder verifies SPF, DKIM and DMARC against the loopback DNS,
// rewrites the envelope sender (SRS), ARC-seals and delivers. CPU per message is the server
// process's user+system time over the messages.
// A second figure: the same forwarding with every DNS answer 20 ms late. If verification asked one
// question at a time across the process, throughput could not pass 1 message per 20 ms (50/s);
// the peak number of DNS queries waiting at once shows how many are in flight.
// Run (Postfix's smtp-source and smtp-sink installed):
//   pnpm exec node --conditions=source bench/forwarder/run.ts [--messages 2000] [--rounds 2]

import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dkimDnsRecord, generateDkimKey } from '@mailyard/auth';
import { startDns } from '../../tooling/testkit/src/dns-server.ts';
import { cpuSeconds, freePort, root } from '../lib/harness.ts';
import { type SmtpSink, startSmtpSink } from '../lib/smtp-sink.ts';
import { startDelayingDns } from './delaying-dns.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    sessions: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    'dns-delay': { type: 'string', default: '20' },
    'delayed-messages': { type: 'string', default: '1000' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const ROUNDS = Number(values.rounds);
const DNS_DELAY_MS = Number(values['dns-delay']);
const SIZE = 1024;
const FLOOR = 0.5;

const dir = mkdtempSync(join(tmpdir(), 'mailyard-bench-forwarder-'));
const children: ChildProcess[] = [];
const keys = {
  sender: generateDkimKey({ type: 'rsa' }),
  relay: generateDkimKey({ type: 'rsa' }),
  arc: generateDkimKey({ type: 'rsa' }),
};
const keyRecord = (domain: string, selector: string, key: string) => ({
  TXT: [dkimDnsRecord({ domain, selector, key }).value],
});

/** A message of SIZE octets (CRLF counted) signed by sender.test, with LF line ends for smtp-source -F. */
async function signedMessage(): Promise<string> {
  const require = createRequire(join(root, 'apps/forwarder/package.json'));
  const nodemailer = require('nodemailer') as {
    createTransport(o: object): { sendMail(m: object): Promise<{ message: Buffer }> };
  };
  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
    dkim: { domainName: 'sender.test', keySelector: 'rsa', privateKey: keys.sender.privateKey },
  });
  const build = async (bodyOctets: number) => {
    const line = `${'x'.repeat(70)}\n`;
    const text = line.repeat(Math.ceil(bodyOctets / line.length)).slice(0, Math.max(bodyOctets, 1));
    const { message } = await transport.sendMail({
      from: 'sender@sender.test',
      to: 'alias@forward.test',
      subject: 'bench',
      text,
      messageId: '<bench@sender.test>',
      date: new Date(),
    });
    return message.toString('latin1');
  };
  const first = await build(600);
  const signed = await build(600 + SIZE - first.length);
  return signed.replace(/\r\n/g, '\n');
}

interface Server {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
}

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((done, fail) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) done(match);
    });
    child.once('exit', (code) => fail(new Error(`server exited with ${code}: ${out}`)));
  });
}

function spawnNode(args: string[], profile: string | undefined): ChildProcess {
  const child = spawn(
    process.execPath,
    [...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : []), '--conditions=source', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return child;
}

/** The relay, as bench/relay runs it: trusted listener, MX from DNS, delivery port = the sink. */
async function startRelay(sinkPort: number, dnsAddress: string): Promise<Server> {
  const relayDir = join(dir, 'relay');
  mkdirSync(relayDir, { recursive: true });
  writeFileSync(join(relayDir, 'relay.pem'), keys.relay.privateKey);
  const port = await freePort();
  writeFileSync(
    join(relayDir, 'relay.yaml'),
    [
      'hostname: bench-relay.test',
      'dataDir: data',
      'listeners:',
      `  trusted: { listen: "127.0.0.1:${port}", networks: [127.0.0.0/8] }`,
      'dkim: [{ domain: sender.test, selector: relay, key: relay.pem }]',
      `dns: { servers: ["${dnsAddress}"] }`,
      `delivery: { port: ${sinkPort}, concurrency: 100, perNextHop: 20, reuseIdle: 5s, mtaSts: false, poll: 200ms }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawnNode(
    [join(root, 'apps/cli/src/main.ts'), 'relay', '--config', join(relayDir, 'relay.yaml')],
    process.env.RELAY_PROFILE,
  );
  await waitForLine(child, /ready/);
  return { name: 'relay', pid: child.pid ?? 0, port };
}

/** The forwarder with verification (dmarc: reject), SRS and ARC on, same delivery settings. */
/** `cacheTtl`: the forwarder's in-process DNS cache (`0s`: every message asks DNS, as a cold sender would). */
async function startForwarder(
  sinkPort: number,
  dnsAddress: string,
  cacheTtl = '30s',
  name = 'forwarder',
): Promise<Server> {
  const forwarderDir = join(dir, name);
  mkdirSync(forwarderDir, { recursive: true });
  writeFileSync(join(forwarderDir, 'arc.pem'), keys.arc.privateKey);
  const port = await freePort();
  writeFileSync(
    join(forwarderDir, 'forwarder.yaml'),
    [
      'hostname: mx.forward.test',
      'dataDir: data',
      `listen: "127.0.0.1:${port}"`,
      'domains: [forward.test]',
      'srs: { domain: forward.test, secrets: [bench-srs-secret-0123456789abcdef] }',
      'arc: { domain: forward.test, selector: arc, key: arc.pem }',
      'dmarc: reject',
      // The per-client limits would throttle one loopback client sending thousands.
      'limits: { connectionsPerMinute: 0, messagesPerMinute: 0 }',
      'rules: [{ recipient: alias@forward.test, forward: dest@inbox.test }]',
      `dns: { servers: ["${dnsAddress}"], cacheTtl: ${cacheTtl} }`,
      `delivery: { port: ${sinkPort}, concurrency: 100, perNextHop: 20, reuseIdle: 5s, mtaSts: false, poll: 200ms }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawnNode(
    [join(import.meta.dirname, 'serve.ts'), join(forwarderDir, 'forwarder.yaml')],
    process.env.FORWARDER_PROFILE,
  );
  const match = await waitForLine(child, /ready (\d+)/);
  return { name: 'forwarder', pid: child.pid ?? 0, port: Number(match[1]) };
}

interface Figure {
  /** Delivered messages per second. */
  readonly rate: number;
  /** Accepted (smtp-source done) messages per second. */
  readonly accepted: number;
  /** Server CPU milliseconds per message. */
  readonly cpuMs: number;
}

/** Sends `messages` copies of the file with smtp-source and waits until the sink has them all. */
async function measure(
  server: Server,
  sink: SmtpSink,
  file: string,
  envelope: { from: string; to: string },
  messages = MESSAGES,
): Promise<Figure> {
  const before = sink.count();
  const cpuBefore = cpuSeconds(server.pid);
  const start = performance.now();
  const args = ['-d', '-s', String(SESSIONS), '-m', String(messages), '-F', file];
  await new Promise<void>((done, fail) => {
    const source = spawn(
      'smtp-source',
      [...args, '-f', envelope.from, '-t', envelope.to, `127.0.0.1:${server.port}`],
      { stdio: 'inherit' },
    );
    source.once('exit', (code) => (code === 0 ? done() : fail(new Error(`smtp-source exited with ${code}`))));
  });
  const acceptedMs = performance.now() - start;
  // Give up when nothing more arrives for 30 s (a broken server, not a slow one).
  let seen = sink.count();
  let progressAt = performance.now();
  while (sink.count() - before < messages) {
    if (sink.count() !== seen) [seen, progressAt] = [sink.count(), performance.now()];
    if (performance.now() - progressAt > 30_000)
      throw new Error(`${server.name}: only ${sink.count() - before} of ${messages} arrived`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    rate: messages / seconds,
    accepted: messages / (acceptedMs / 1000),
    cpuMs: ((cpuSeconds(server.pid) - cpuBefore) * 1000) / messages,
  };
}

/** Throws unless the first transaction a sink dumped matches every pattern (the work was done). */
function checkDelivered(dumpFile: string, patterns: readonly RegExp[]): void {
  const dump = readFileSync(dumpFile, 'latin1');
  const first = dump.slice(0, dump.indexOf('X-Client-Addr:', 1) >>> 0);
  const missing = patterns.filter((p) => !p.test(first));
  if (missing.length > 0) throw new Error(`${dumpFile}: first message lacks ${missing.join(', ')}`);
}

const fmt = (f: Figure) =>
  `${f.rate.toFixed(0).padStart(6)} msg/s delivered (${f.accepted.toFixed(0)} accepted), ${f.cpuMs.toFixed(2)} ms CPU/msg`;

try {
  const dns = await startDns(
    {
      'sink.test': { MX: [{ priority: 10, exchange: 'mx.sink.test' }] },
      'mx.sink.test': { A: ['127.0.0.1'] },
      'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject'] },
      'rsa._domainkey.sender.test': keyRecord('sender.test', 'rsa', keys.sender.privateKey),
      'relay._domainkey.sender.test': keyRecord('sender.test', 'relay', keys.relay.privateKey),
      'arc._domainkey.forward.test': keyRecord('forward.test', 'arc', keys.arc.privateKey),
      'forward.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      'inbox.test': { MX: [{ priority: 10, exchange: 'mx.inbox.test' }] },
      'mx.inbox.test': { A: ['127.0.0.1'] },
    },
    { ttl: 0 },
  );
  // Both servers ask through the proxy, so their DNS path is the same; it delays only when told.
  const proxy = await startDelayingDns(dns.port);
  const file = join(dir, 'message.eml');
  writeFileSync(file, await signedMessage());
  // smtp-sink runs as nobody: it must reach the folder of its dump files.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'sinks'), { mode: 0o777 });
  chmodSync(join(dir, 'sinks'), 0o777);
  const relaySink = await startSmtpSink({ dumpFile: join(dir, 'sinks', 'relay.dump') });
  const forwarderSink = await startSmtpSink({ dumpFile: join(dir, 'sinks', 'forwarder.dump') });
  children.push(relaySink.child, forwarderSink.child);
  const relay = await startRelay(relaySink.port, proxy.address);
  const forwarder = await startForwarder(forwarderSink.port, proxy.address);
  const relayed = { from: 'sender@sender.test', to: 'rcpt@sink.test' };
  const forwarded = { from: 'sender@sender.test', to: 'alias@forward.test' };

  // Warm-up: JIT, connections, SQLite pages.
  await measure(relay, relaySink, file, relayed, 500);
  await measure(forwarder, forwarderSink, file, forwarded, 500);
  checkDelivered(join(dir, 'sinks', 'relay.dump'), [/^DKIM-Signature:[\s\S]*?s=relay;/m]);
  checkDelivered(join(dir, 'sinks', 'forwarder.dump'), [
    /^X-Mail-Args: <SRS0=/m,
    /^ARC-Seal: i=1;/m,
    /^Authentication-Results: mx\.forward\.test;\s+dkim=pass[\s\S]*spf=pass[\s\S]*dmarc=pass/m,
  ]);
  console.log(
    'checked at the sinks: relay added its DKIM signature; forwarder sent SRS0=…, ARC-Seal i=1, dkim/spf/dmarc=pass',
  );

  console.log(`${MESSAGES} messages of ${SIZE} octets over ${SESSIONS} sessions, counted at smtp-sink`);
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const r = await measure(relay, relaySink, file, relayed);
    const f = await measure(forwarder, forwarderSink, file, forwarded);
    ratios.push(f.rate / r.rate);
    console.log(`round ${round}`);
    console.log(`  relay (trusted, DKIM sign):        ${fmt(r)}`);
    console.log(`  forwarder (verify, SRS, ARC seal): ${fmt(f)}`);
    console.log(`  ratio forwarder/relay: ${(f.rate / r.rate).toFixed(2)}`);
  }
  const worst = Math.min(...ratios);
  console.log(
    `ratio forwarder/relay ${worst.toFixed(2)}..${Math.max(...ratios).toFixed(2)}: floor ${FLOOR}x ${worst >= FLOOR ? 'met' : 'NOT met'}`,
  );

  // Without its DNS cache, so that every message asks DNS (slowly) and only concurrency helps.
  const uncached = await startForwarder(forwarderSink.port, proxy.address, '0s', 'forwarder-uncached');
  await measure(uncached, forwarderSink, file, forwarded, 200);
  proxy.delayMs = DNS_DELAY_MS;
  const delayedMessages = Number(values['delayed-messages']);
  const queriesBefore = proxy.queries;
  const answeredBefore = dns.queries.length;
  proxy.resetPeak();
  const slow = await measure(uncached, forwarderSink, file, forwarded, delayedMessages);
  const perMessage = (proxy.queries - queriesBefore) / delayedMessages;
  const asked = new Map<string, number>();
  for (const q of dns.queries.slice(answeredBefore)) {
    const key = `${q.type} ${q.name}`;
    asked.set(key, (asked.get(key) ?? 0) + 1);
  }
  const serialBound = 1000 / DNS_DELAY_MS;
  console.log(`DNS answers ${DNS_DELAY_MS} ms late, ${delayedMessages} messages:`);
  console.log(`  forwarder: ${fmt(slow)}`);
  console.log(
    `  per message: ${[...asked]
      .filter(([, n]) => n / delayedMessages >= 0.05)
      .map(([q, n]) => `${q} x${(n / delayedMessages).toFixed(1)}`)
      .join(', ')}`,
  );
  console.log(
    `  ${perMessage.toFixed(1)} DNS queries per message, up to ${proxy.peakInFlight} waiting at once; one at a time would cap it at ${serialBound.toFixed(0)} msg/s: ${slow.rate > serialBound ? 'concurrent' : 'SERIALISED'}`,
  );
  await proxy.close();
  await dns.close();
} finally {
  for (const child of children) child.kill('SIGTERM');
  // A profiled server writes its profile as it exits.
  await new Promise((r) =>
    setTimeout(r, process.env.FORWARDER_PROFILE || process.env.RELAY_PROFILE ? 5000 : 1000),
  );
  rmSync(dir, { recursive: true, force: true });
}
