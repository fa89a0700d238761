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

export function createConnectionLimits(options: ConnectionLimitsOptions): ConnectionLimits {
  const perIp = new Map<string, number>();
  let total = 0;
  return {
    get total() {
      return total;
    },
    countFor(remoteAddress) {
      return perIp.get(remoteAddress) ?? 0;
    },
    admit(remoteAddress) {
      if (total >= options.maxConnections) {
        return new SmtpError(421, '4.3.2', 'Too many connections, try again later');
      }
      const current = perIp.get(remoteAddress) ?? 0;
      if (current >= options.maxConnectionsPerIp) {
        return new SmtpError(421, '4.7.0', 'Too many connections from your address, try again later');
      }
      total++;
      perIp.set(remoteAddress, current + 1);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          total--;
          const left = (perIp.get(remoteAddress) ?? 1) - 1;
          if (left <= 0) perIp.delete(remoteAddress);
          else perIp.set(remoteAddress, left);
        },
      };
    },
  };
}
