// The SMTP courier: the `Courier` of delivery.ts that both the relay and the forwarder hand to
// their queues. One delivery request = one next hop, many recipients, one outcome each.
// Next-hop resolution is RFC 5321 §5.1 (next-hop.ts) or a configured smarthost; the courier tries
// MX hosts in order and each of their addresses, moving on when a connection fails or the session
// cannot be set up (4xx/5xx greeting, TLS required but missing), up to `maxAttempts` connections
// (Postfix's smtp_mx_address_limit). Recipients then share one transaction (DESIGN.md).
// MTA-STS (RFC 8461 §5): with an `enforce` policy only matching MX hosts are used, over TLS with
// a verified certificate for the MX name; anything else defers. `testing` policies are not enforced.
// Anything unknown becomes a deferral (451 4.3.0): only an explicit 5xx bounces.

import { formatAddress } from '../address.ts';
import type { Courier, DeliveryRequest, Outcome } from '../delivery.ts';
import { SmtpError } from '../smtp-error.ts';
import { createDnsResolver, type DnsOption } from './dns-resolver.ts';
import { type MtaStsPolicy, type MtaStsPolicySource, mxMatchesPolicy } from './mta-sts.ts';
import { type MxHost, resolveHostAddresses, resolveMxHosts } from './next-hop.ts';
import { failedAll } from './outcomes.ts';
import {
  openSmtpClient,
  type SmtpAuthOptions,
  type SmtpClient,
  type SmtpClientOptions,
} from './smtp-client.ts';
import type { ConnectionTlsOptions } from './smtp-connection.ts';
import type { SmtpTimeouts } from './timeouts.ts';

export interface SmarthostOptions {
  /** Host name or IP address of the relay. */
  readonly host: string;
  /** Default 587 for `starttls`, 465 for `implicit`, 25 for `none`. */
  readonly port?: number;
  /** Default `starttls` (required, not opportunistic: credentials and mail must not leak). */
  readonly tls?: 'starttls' | 'implicit' | 'none';
  readonly auth?: SmtpAuthOptions;
  /** Default true (false only makes sense for a private relay with a self-signed certificate). */
  readonly verifyCertificate?: boolean;
  readonly tlsOptions?: ConnectionTlsOptions;
}

export interface MailReuseOptions {
  /** How long an idle connection is kept for the next request to the same next hop (ms). */
  readonly idleMs: number;
  /** Messages per connection before it is closed (default 100). */
  readonly maxMessages?: number;
}

export interface SmtpCourierOptions {
  /** Our name in EHLO (default os.hostname()). */
  readonly localName?: string;
  /** A node:dns/promises Resolver-like object, or `{ servers: ['ip[:port]'] }`. */
  readonly dns?: DnsOption;
  /** Port of MX hosts (default 25; tests point it at a loopback peer). */
  readonly port?: number;
  /** TLS towards MX hosts (default `opportunistic`). */
  readonly tls?: 'opportunistic' | 'required' | 'none';
  /** Verify MX certificates; default: only for `required` (see smtp-client.ts) and MTA-STS. */
  readonly verifyCertificate?: boolean;
  /** TLS settings for MX hosts, e.g. a private `ca`. */
  readonly tlsOptions?: ConnectionTlsOptions;
  /** MTA-STS policy lookup (e.g. `createMtaStsFetcher(...)`, or a function returning a fixed policy). */
  readonly mtaSts?: MtaStsPolicySource;
  /** Send everything (or, as a function, some next hops) through a relay instead of MX hosts. */
  readonly smarthost?: SmarthostOptions | ((nextHop: string) => SmarthostOptions | undefined);
  readonly timeouts?: Partial<SmtpTimeouts>;
  /** Connections tried per request before deferring (default 5). */
  readonly maxAttempts?: number;
  /** Keep connections open for later requests to the same next hop (default: close after each). */
  readonly reuse?: MailReuseOptions;
  /** Randomness for ordering MX hosts of equal preference (default Math.random). */
  readonly random?: () => number;
}

export interface SmtpCourier extends Courier, AsyncDisposable {
  /** Closes idle pooled connections. */
  close(): Promise<void>;
}

interface Target {
  readonly host: MxHost;
  readonly client: Omit<SmtpClientOptions, 'host'>;
}

type Route =
  | { readonly ok: true; readonly targets: readonly Target[] }
  | { readonly ok: false; readonly error: SmtpError };

interface Pooled {
  readonly client: SmtpClient;
  messages: number;
  timer: NodeJS.Timeout | undefined;
}

export function createSmtpCourier(options: SmtpCourierOptions = {}): SmtpCourier {
  const resolver = createDnsResolver(options.dns);
  const maxAttempts = options.maxAttempts ?? 5;
  const pool = new Map<string, Pooled[]>();
  const resolveOptions = { resolver, ...(options.random ? { random: options.random } : {}) };

  const common = {
    ...(options.localName ? { localName: options.localName } : {}),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  };

  const route = async (nextHop: string): Promise<Route> => {
    const smarthost =
      typeof options.smarthost === 'function' ? options.smarthost(nextHop) : options.smarthost;
    if (smarthost) {
      const tls = smarthost.tls ?? 'starttls';
      return {
        ok: true,
        targets: [
          {
            host: { exchange: smarthost.host.toLowerCase(), priority: 0, implicit: false },
            client: {
              ...common,
              port: smarthost.port ?? (tls === 'implicit' ? 465 : tls === 'none' ? 25 : 587),
              tls: tls === 'starttls' ? 'required' : tls,
              ...(smarthost.auth ? { auth: smarthost.auth } : {}),
              ...(smarthost.verifyCertificate !== undefined
                ? { verifyCertificate: smarthost.verifyCertificate }
                : {}),
              ...(smarthost.tlsOptions ? { tlsOptions: smarthost.tlsOptions } : {}),
            },
          },
        ],
      };
    }
    const mx = await resolveMxHosts(nextHop, resolveOptions);
    if (!mx.ok) return mx;
    let policy: MtaStsPolicy | null = null;
    if (options.mtaSts) {
      try {
        policy = await options.mtaSts(nextHop);
      } catch {
        // RFC 8461 §5.1: a policy that cannot be fetched is treated as no policy.
        policy = null;
      }
    }
    const enforce = policy?.mode === 'enforce' ? policy : null;
    const hosts = enforce ? mx.hosts.filter((h) => mxMatchesPolicy(h.exchange, enforce)) : mx.hosts;
    if (hosts.length === 0) {
      return {
        ok: false,
        error: new SmtpError(451, '4.7.5', `No MX host of ${nextHop} matches its MTA-STS policy`),
      };
    }
    return {
      ok: true,
      targets: hosts.map((host) => ({
        host,
        client: {
          ...common,
          port: options.port ?? 25,
          ...(enforce
            ? { tls: 'required' as const, verifyCertificate: true }
            : {
                tls: options.tls ?? 'opportunistic',
                ...(options.verifyCertificate !== undefined
                  ? { verifyCertificate: options.verifyCertificate }
                  : {}),
              }),
          ...(options.tlsOptions ? { tlsOptions: options.tlsOptions } : {}),
        },
      })),
    };
  };

  const connect = async (
    nextHop: string,
    signal: AbortSignal,
  ): Promise<{ ok: true; client: SmtpClient } | { ok: false; error: SmtpError }> => {
    const routed = await route(nextHop);
    if (!routed.ok) return routed;
    const errors: SmtpError[] = [];
    let attempts = 0;
    for (const target of routed.targets) {
      if (attempts >= maxAttempts || signal.aborted) break;
      const resolved = await resolveHostAddresses(target.host.exchange, resolveOptions);
      if (!resolved.ok) {
        errors.push(resolved.error);
        continue;
      }
      for (const address of resolved.addresses) {
        if (attempts >= maxAttempts || signal.aborted) break;
        attempts++;
        try {
          const client = await openSmtpClient({
            ...target.client,
            host: address,
            ...(address === target.host.exchange ? {} : { servername: target.host.exchange }),
            signal,
          });
          return { ok: true, client };
        } catch (error) {
          errors.push(SmtpError.from(error));
        }
      }
    }
    if (signal.aborted) {
      return { ok: false, error: new SmtpError(451, '4.3.0', 'Delivery aborted', { cause: signal.reason }) };
    }
    // Only bounce when every host failed permanently; any temporary failure means "try later".
    const error =
      errors.findLast((e) => e.temporary) ??
      errors.at(-1) ??
      new SmtpError(451, '4.4.4', `No usable host for ${nextHop}`);
    return { ok: false, error };
  };

  const take = async (nextHop: string): Promise<Pooled | undefined> => {
    const idle = pool.get(nextHop);
    while (idle && idle.length > 0) {
      const pooled = idle.pop() as Pooled;
      clearTimeout(pooled.timer);
      if (pooled.client.usable) return pooled;
      await pooled.client.close();
    }
    return undefined;
  };

  const release = async (nextHop: string, pooled: Pooled): Promise<void> => {
    const reuse = options.reuse;
    if (!reuse || !pooled.client.usable || pooled.messages >= (reuse.maxMessages ?? 100)) {
      await pooled.client.close();
      return;
    }
    const idle = pool.get(nextHop) ?? [];
    pool.set(nextHop, idle);
    idle.push(pooled);
    pooled.timer = setTimeout(() => {
      const index = idle.indexOf(pooled);
      if (index >= 0) idle.splice(index, 1);
      void pooled.client.close();
    }, reuse.idleMs);
    pooled.timer.unref();
  };

  const deliver = async (request: DeliveryRequest, signal: AbortSignal): Promise<Outcome[]> => {
    const rcpts = request.envelope.rcptTo.map((r) => formatAddress(r.address));
    if (rcpts.length === 0) return [];
    try {
      let pooled = await take(request.nextHop);
      if (!pooled) {
        const connected = await connect(request.nextHop, signal);
        if (!connected.ok) return failedAll(rcpts, connected.error);
        pooled = { client: connected.client, messages: 0, timer: undefined };
      }
      pooled.messages++;
      const outcomes = await pooled.client.send(
        {
          envelope: request.envelope,
          message: request.openMessage,
          ...(request.size !== undefined ? { size: request.size } : {}),
        },
        signal,
      );
      await release(request.nextHop, pooled);
      return outcomes;
    } catch (error) {
      return failedAll(rcpts, SmtpError.from(error));
    }
  };

  const close = async () => {
    const all = [...pool.values()].flat();
    pool.clear();
    await Promise.all(
      all.map((pooled) => {
        clearTimeout(pooled.timer);
        return pooled.client.close();
      }),
    );
  };

  return { deliver, close, [Symbol.asyncDispose]: close };
}
