// Options of createSmtpServer and their safe defaults. Defaults follow RFC 5321 §4.5.3
// (100 recipients, 5-minute server timeout) and common MTA practice for the rest.

import type { BareLineEndings } from './data-guard.ts';

export type ListenerTls = 'starttls' | 'implicit' | 'none';

export interface SmtpListenerOptions {
  /** Shown in ConnectionInfo.listener and logs; default `smtp`, `smtps` or `smtp-<n>`. */
  readonly name?: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: any free port (see `addresses` after listen()). */
  readonly port?: number;
  /**
   * `starttls` offers STARTTLS (RFC 3207); `implicit` speaks TLS from the first byte (RFC 8314,
   * port 465 style); `none` is plaintext only. Default: `starttls` when `tls` is configured.
   */
  readonly tls?: ListenerTls;
  /** Offer AUTH on an unencrypted connection too. Default false: AUTH only after TLS. */
  readonly allowPlaintextAuth?: boolean;
  /** MAIL needs a prior AUTH (a submission port, RFC 6409 §4.3). Default false. */
  readonly requireAuth?: boolean;
  /** Overrides the server's greetingDelayMs for this listener (e.g. an MX port). */
  readonly greetingDelayMs?: number;
}

export interface SmtpServerLimits {
  /** Concurrent connections over all listeners. Default 1000. */
  readonly maxConnections?: number;
  /** Concurrent connections from one client address. Default 50. */
  readonly maxConnectionsPerIp?: number;
  /** Recipients per message (452 4.5.3 beyond). Default 100 (RFC 5321 §4.5.3.1.8). */
  readonly maxRecipients?: number;
  /** Longest command line in octets (500, then 421 beyond). Default 4096. */
  readonly maxLineLength?: number;
  /** Idle time while the server waits for the client. Default 300 000 ms (RFC 5321 §4.5.3.2.7). */
  readonly idleTimeoutMs?: number;
  /** Whole-connection deadline. Default 1 800 000 ms. 0 = none. */
  readonly sessionTimeoutMs?: number;
  /** Unrecognised commands before 421 and close. Default 10. */
  readonly maxUnrecognizedCommands?: number;
}

export interface SmtpServerLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface SmtpServerOptions {
  /** Our host name: in the greeting, EHLO reply and the Received `by` clause. */
  readonly hostname: string;
  /** Default: one listener on 127.0.0.1, any port. */
  readonly listeners?: readonly SmtpListenerOptions[];
  /** Certificate for STARTTLS and implicit TLS (PEM). Without it, no TLS is offered. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** Advertised SIZE and the limit enforced while streaming (552 5.3.4). Default 25 MiB. */
  readonly maxMessageSize?: number;
  /** Pause before the 220 greeting, catching early talkers. Default 0 (submission, sink). */
  readonly greetingDelayMs?: number;
  readonly limits?: SmtpServerLimits;
  /** A bare CR or LF in DATA: `reject` (550 5.6.0, default) or `normalize` to CRLF. */
  readonly bareLineEndings?: BareLineEndings;
  /** Text after `ESMTP` in the greeting. */
  readonly banner?: string;
  /** Clock for the Received header date. */
  readonly now?: () => Date;
  readonly logger?: SmtpServerLogger;
}

export interface ResolvedLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxRecipients: number;
  readonly maxLineLength: number;
  readonly idleTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly maxUnrecognizedCommands: number;
}

export const DEFAULT_LIMITS: ResolvedLimits = {
  maxConnections: 1000,
  maxConnectionsPerIp: 50,
  maxRecipients: 100,
  maxLineLength: 4096,
  idleTimeoutMs: 300_000,
  sessionTimeoutMs: 1_800_000,
  maxUnrecognizedCommands: 10,
};

export const DEFAULT_MAX_MESSAGE_SIZE = 25 * 1024 * 1024;

export function resolveLimits(limits: SmtpServerLimits = {}): ResolvedLimits {
  const resolved: { -readonly [K in keyof ResolvedLimits]: number } = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits) as [keyof ResolvedLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0)
      throw new RangeError(`limits.${key} must be a non-negative integer`);
    resolved[key] = value;
  }
  return resolved;
}
