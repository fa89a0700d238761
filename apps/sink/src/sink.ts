// openSink: the whole test sink as one closable resource — store, SMTP listener (@mailyard/smtp's
// server with the sink backend), HTTP (API + UI). Binds loopback by default.

import { hostname as osHostname } from 'node:os';
import type { Resolver } from '@mailyard/auth';
import { createSmtpServer, type SmtpBackend, SmtpError, type SmtpListenerOptions } from '@mailyard/smtp';
import { Chaos } from './chaos.ts';
import type { SinkContext } from './context.ts';
import { createHttpApp } from './http-server.ts';
import { parseRelayUrl } from './release.ts';
import { createSinkBackend, type SmtpAuthPolicy } from './smtp-backend.ts';
import { openSinkStore, type SinkStore } from './store.ts';
import { createAnalyzer } from './verdicts.ts';

export interface SinkOptions {
  /** SMTP listener; default 127.0.0.1:1025 (port 0 = any free port). */
  readonly smtp?: { readonly host?: string; readonly port?: number };
  /** HTTP listener for API and UI; default 127.0.0.1:8025. */
  readonly http?: { readonly host?: string; readonly port?: number };
  /** SQLite file, or `:memory:`. */
  readonly database: string;
  readonly maxMessages?: number;
  readonly maxAgeMs?: number;
  readonly smtpAuth?: SmtpAuthPolicy;
  /** PEM certificate and key: STARTTLS is offered, or implicit TLS with `implicitTls`. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer } | null;
  readonly implicitTls?: boolean;
  readonly requireStarttls?: boolean;
  readonly uiAuth?: ReadonlyMap<string, string> | null;
  /** Largest message accepted over SMTP (552 beyond). Default 100 MiB. */
  readonly maxMessageSize?: number;
  /** SMTP server for release (`smtp://user:pass@host:port`). Without it, nothing is ever relayed. */
  readonly relay?: string | null;
  readonly relayAll?: boolean;
  readonly relayMatching?: string | null;
  /** Authentication verdicts: false to skip; otherwise DNS servers or a fixture resolver. */
  readonly verdicts?:
    | false
    | {
        readonly dnsServers?: readonly string[];
        readonly resolver?: Resolver;
        readonly dnsBudgetMs?: number;
      };
  readonly label?: string;
  readonly hostname?: string;
  readonly version?: string;
  readonly now?: () => number;
}

export interface Sink {
  readonly store: SinkStore;
  readonly chaos: Chaos;
  readonly smtpAddress: { readonly host: string; readonly port: number };
  readonly httpAddress: { readonly host: string; readonly port: number };
  readonly smtpUrl: string;
  readonly httpUrl: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function openSink(options: SinkOptions): Promise<Sink> {
  const store = openSinkStore({
    path: options.database,
    maxMessages: options.maxMessages ?? 500,
    maxAgeMs: options.maxAgeMs ?? 0,
    ...(options.now ? { now: options.now } : {}),
    ...(options.verdicts === false ? {} : { analyze: createAnalyzer(options.verdicts ?? {}) }),
  });
  const chaos = new Chaos();
  const relay = options.relay ? parseRelayUrl(options.relay) : null;
  const context: SinkContext = {
    store,
    chaos,
    relay,
    version: options.version ?? '0.0.0',
    startedAt: Date.now(),
    label: options.label ?? '',
    jim: null,
  };
  let backend: SmtpBackend = createSinkBackend({
    store,
    chaos,
    ...(options.smtpAuth ? { auth: options.smtpAuth } : {}),
    autoRelay:
      relay && (options.relayAll || options.relayMatching)
        ? {
            target: relay,
            ...(options.relayMatching ? { matching: new RegExp(options.relayMatching, 'i') } : {}),
          }
        : null,
  });
  if (options.requireStarttls) {
    const inner = backend;
    backend = {
      ...inner,
      async connect(info) {
        const session = await inner.connect(info);
        return {
          ...session,
          async mail(from, params) {
            if (!info.secure) throw new SmtpError(530, '5.7.0', 'Must issue a STARTTLS command first');
            return session.mail(from, params);
          },
          rcpt: (to, envelope) => session.rcpt(to, envelope),
          data: (message, envelope) => session.data(message, envelope),
        };
      },
    };
  }
  const tls = options.tls ?? null;
  const listener: SmtpListenerOptions = {
    host: options.smtp?.host ?? '127.0.0.1',
    port: options.smtp?.port ?? 1025,
    tls: tls ? (options.implicitTls ? 'implicit' : 'starttls') : 'none',
    // A sink is a developer tool on loopback: AUTH without TLS is what its clients do.
    allowPlaintextAuth: true,
    requireAuth: Boolean(options.smtpAuth?.required && options.smtpAuth.mode !== 'none'),
  };
  const smtp = createSmtpServer(
    {
      hostname: options.hostname ?? osHostname(),
      listeners: [listener],
      ...(tls ? { tls } : {}),
      maxMessageSize: options.maxMessageSize ?? 100 * 1024 * 1024,
      // Senders under test often write bare LFs; a sink should catch their mail, not refuse it.
      bareLineEndings: 'normalize',
      limits: { maxConnectionsPerIp: 1000, maxRecipients: 10_000 },
      banner: 'Mailyard sink',
    },
    backend,
  );
  const app = createHttpApp({ context, basicAuth: options.uiAuth ?? null });
  const pruneTimer = options.maxAgeMs ? setInterval(() => store.pruneNow(), 60_000) : null;
  pruneTimer?.unref();
  try {
    const [bound] = await smtp.listen();
    await app.listen({ host: options.http?.host ?? '127.0.0.1', port: options.http?.port ?? 8025 });
    const address = app.server.address();
    const httpAddress =
      address && typeof address === 'object'
        ? { host: address.address, port: address.port }
        : { host: options.http?.host ?? '127.0.0.1', port: options.http?.port ?? 8025 };
    const smtpAddress = { host: bound!.host, port: bound!.port };
    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        if (pruneTimer) clearInterval(pruneTimer);
        await Promise.allSettled([smtp.close({ deadline: 5000 }), app.close()]);
        await store.close();
      })();
      return closing;
    };
    return {
      store,
      chaos,
      smtpAddress,
      httpAddress,
      smtpUrl: `smtp://${urlHost(smtpAddress.host)}:${smtpAddress.port}`,
      httpUrl: `http://${urlHost(httpAddress.host)}:${httpAddress.port}`,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await Promise.allSettled([smtp.close({ deadline: 0 }), app.close()]);
    await store.close();
    throw error;
  }
}
