// Authentication verdicts for every caught message (SPF, DKIM, DMARC, ARC via @mailyard/auth).
// A sink usually runs without network access: DNS lookups get a short per-query timeout and a
// small total budget, so a message shows `temperror` quickly instead of hanging.

import type { Readable } from 'node:stream';
import { createResolver, type Resolver, type Verdict, verify } from '@mailyard/auth';
import { parseAddress } from '@mailyard/smtp';
import type { StoredMessage } from './store.ts';

export interface AnalyzerOptions {
  /** DNS servers (`ip[:port]`); the system's when absent. */
  readonly dnsServers?: readonly string[];
  /** A resolver to use instead (tests hand in fixtures). */
  readonly resolver?: Resolver;
  /** Total DNS time per message (default 2000 ms). */
  readonly dnsBudgetMs?: number;
  readonly authservId?: string;
}

export function createAnalyzer(options: AnalyzerOptions = {}) {
  const resolver =
    options.resolver ??
    createResolver({
      ...(options.dnsServers ? { servers: options.dnsServers } : {}),
      timeoutMs: 800,
      tries: 1,
    });
  return async (message: StoredMessage, raw: () => Readable): Promise<Verdict> => {
    let mailFrom = null;
    if (message.mailFrom) {
      try {
        mailFrom = parseAddress(message.mailFrom, { smtputf8: true });
      } catch {
        mailFrom = null;
      }
    }
    return verify(raw(), {
      envelope: { mailFrom },
      ...(message.remoteAddress ? { clientIp: message.remoteAddress.replace(/^::ffff:/, '') } : {}),
      ...(message.helo ? { helo: message.helo } : {}),
      resolver,
      authservId: options.authservId ?? 'mailyard-sink',
      dnsBudgetMs: options.dnsBudgetMs ?? 2000,
    });
  };
}
