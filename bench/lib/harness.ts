// What the benchmarks share: the measuring tools in ../shared/tools, free loopback ports,
// waiting for a server's greeting, and reading a child process's CPU and memory from /proc.

import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root, and ../shared/tools beside it (MAILYARD_SHARED_TOOLS overrides). */
export const root = resolve(import.meta.dirname, '..', '..');
export const tools = resolve(process.env.MAILYARD_SHARED_TOOLS ?? join(root, '..', 'shared', 'tools'));

/** Builds a workspace package (its dist), for benchmarks that run it as its users do. */
export function buildPackage(name: string): void {
  execFileSync('pnpm', ['--filter', name, 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Exits with a clear message unless smtp-accept-rate.sh and Postfix's smtp-source are here. */
export function requireSmtpSource(): void {
  if (!existsSync(join(tools, 'smtp-accept-rate.sh')) || !existsSync('/usr/sbin/smtp-source')) {
    console.error(`needs ${tools}/smtp-accept-rate.sh and /usr/sbin/smtp-source (apt-get install postfix)`);
    process.exit(2);
  }
}

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Waits until the child's SMTP server on `port` sends its first reply bytes. */
export async function waitForGreeting(child: ChildProcess, port: number, attempts = 300): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port} && head -c 3 <&3`], { timeout: 3000 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no greeting on port ${port}`);
}

const TICKS_PER_SECOND = 100; // USER_HZ: the unit of utime/stime in /proc/PID/stat on Linux

/** CPU seconds (user + system, all threads) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The fields after the command name, which is in parentheses and may hold spaces;
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory of the process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}
