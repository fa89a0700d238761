// Postfix's smtp-sink as the MX that benchmarks deliver to: it accepts and discards (C, so it is
// never the bottleneck) and its -c counters say how many messages have arrived.

import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from './harness.ts';

export interface SmtpSink {
  readonly port: number;
  /** Messages received so far. */
  count(): number;
  readonly child: ChildProcess;
}

/**
 * Starts smtp-sink on a free loopback port (needs /usr/sbin/smtp-sink: apt-get install postfix).
 * With `dumpFile` it appends every transaction (envelope and message) there, for checking what arrived.
 */
export async function startSmtpSink(options: { dumpFile?: string } = {}): Promise<SmtpSink> {
  const port = await freePort();
  const dump = options.dumpFile ? ['-D', options.dumpFile] : [];
  const child = spawn('smtp-sink', ['-c', ...dump, '-u', 'nobody', `127.0.0.1:${port}`, '1024'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last = 0;
  let tail = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    // The counters are rewritten in place (\r): keep only the newest few.
    tail = (tail + chunk.toString()).slice(-200);
    const matches = [...tail.matchAll(/mesg=(\d+)/g)];
    const n = Number(matches.at(-1)?.[1] ?? last);
    if (n > last) last = n;
  });
  await new Promise((r) => setTimeout(r, 300));
  return { port, child, count: () => last };
}
