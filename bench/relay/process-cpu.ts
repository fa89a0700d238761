// CPU used by a process and all its descendants, from /proc (Linux): what the process has used
// itself (utime + stime, all threads), what its children that exited and were reaped used
// (cutime + cstime), and recursively what its live children have used so far. The sum only grows
// while children come and go (a reaped child's time moves into its parent's cutime), which is what
// a before/after difference over a run needs: Postfix's smtpd, cleanup, qmgr, smtp, trivial-rewrite
// ... are all children of its master.

import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: the unit of the times in /proc/PID/stat on Linux

interface Stat {
  readonly ppid: number;
  readonly ticks: number;
}

function readStat(pid: string): Stat | null {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null; // exited meanwhile
  }
  // Fields after the command name (in parentheses, may hold spaces): state ppid ... utime(12)
  // stime(13) cutime(14) cstime(15), counted from 0 after the name.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return { ppid: Number(fields[1]), ticks };
}

/** CPU seconds of `pid` and every descendant, exited ones included once reaped. */
export function treeCpuSeconds(pid: number): number {
  const all = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) all.set(Number(entry), stat);
  }
  const children = new Map<number, number[]>();
  for (const [child, stat] of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), child]);
  let ticks = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop() as number;
    ticks += all.get(next)?.ticks ?? 0;
    pending.push(...(children.get(next) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}
