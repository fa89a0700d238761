// Connection admission: a cap on concurrent connections in total and per client address, shared
// by every listener of one server (RFC 5321 §4.5.3.2 leaves limits to the server; the 421 reply
// is §3.8). Counting lives here so that the check is one decision with one release.

import { SmtpError } from '../smtp-error.ts';

export interface ConnectionLimitsOptions {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
}

export interface Admission {
  /** Gives the slot back; idempotent. */
  release(): void;
}

export interface ConnectionLimits {
  /** Takes a slot for a connection from `remoteAddress`, or returns the 421 to send. */
  admit(remoteAddress: string): Admission | SmtpError;
  readonly total: number;
  countFor(remoteAddress: string): number;
}

/** One taken slot: a plain object, not a closure, as every connection takes one. */
class Slot implements Admission {
  private readonly counts: Counts;
  private readonly remoteAddress: string;
  private released = false;

  constructor(counts: Counts, remoteAddress: string) {
    this.counts = counts;
    this.remoteAddress = remoteAddress;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const { perIp } = this.counts;
    this.counts.total--;
    const left = (perIp.get(this.remoteAddress) ?? 1) - 1;
    if (left <= 0) perIp.delete(this.remoteAddress);
    else perIp.set(this.remoteAddress, left);
  }
}

interface Counts {
  total: number;
  readonly perIp: Map<string, number>;
}

export function createConnectionLimits(options: ConnectionLimitsOptions): ConnectionLimits {
  const counts: Counts = { total: 0, perIp: new Map() };
  return {
    get total() {
      return counts.total;
    },
    countFor(remoteAddress) {
      return counts.perIp.get(remoteAddress) ?? 0;
    },
    admit(remoteAddress) {
      if (counts.total >= options.maxConnections) {
        return new SmtpError(421, '4.3.2', 'Too many connections, try again later');
      }
      const current = counts.perIp.get(remoteAddress) ?? 0;
      if (current >= options.maxConnectionsPerIp) {
        return new SmtpError(421, '4.7.0', 'Too many connections from your address, try again later');
      }
      counts.total++;
      counts.perIp.set(remoteAddress, current + 1);
      return new Slot(counts, remoteAddress);
    },
  };
}
