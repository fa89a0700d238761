// The inbound check contract: what a policy module (a DNS block list, a greylist, a rate limit)
// implements so that any app built on the SMTP server can load it by package name from its
// config. A check has one optional hook per SMTP stage (RFC 5321 §3.1 connect, §3.3 MAIL, RCPT,
// DATA) and answers each with a verdict value — accept, reject with an SmtpError, or tag — never
// with an exception (the maddy shape, STYLE.md). The data stage sees the header fields and the
// declared size, not the body, so a check never makes a message be held in memory.

import type { Address } from '../address.ts';
import type { DnsResolver } from '../client/dns-resolver.ts';
import type { Envelope, Recipient } from '../envelope.ts';
import type { HeaderField } from '../header-fields.ts';
import type { ConnectionInfo } from '../server/backend.ts';
import type { SmtpError } from '../smtp-error.ts';

export type CheckStage = 'connect' | 'mail' | 'rcpt' | 'data';

/**
 * What a check decides. `reject.error` is the reply the client sees (its message is safe to
 * show a peer); `reason` is detail for the log only. A `tag` lets the message through with a
 * mark the app can record (a header field, a rule condition).
 */
export type CheckVerdict =
  | { readonly action: 'accept' }
  | { readonly action: 'reject'; readonly error: SmtpError; readonly reason?: string }
  | { readonly action: 'tag'; readonly tag: string; readonly reason?: string };

/** A tag as the host collects it: which check set it, and its text. */
export interface CheckTag {
  readonly check: string;
  readonly tag: string;
}

/** The structured logger a check and the host share (pino fits). */
export interface CheckLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export interface CheckContext {
  /** The connection: client IP (`remoteAddress`), HELO name, TLS, auth user; a live view. */
  readonly connection: ConnectionInfo;
  /**
   * The transaction so far: `null` at connect; at MAIL, the sender being checked and no
   * recipients; at RCPT, the recipients accepted before this one; at DATA, all of it.
   */
  readonly envelope: Envelope | null;
  /** The host's DNS resolver (e.g. pointed at `dns.servers`). */
  readonly resolver: DnsResolver;
  readonly logger: CheckLogger;
  /** Aborted when the check's answer is no longer wanted (it timed out, or another check rejected). */
  readonly signal: AbortSignal;
}

/** What the data stage sees of a message: its header, never its body. */
export interface MessageInfo {
  /** The header fields in order, the server's Received: field first. */
  readonly header: readonly HeaderField[];
  /**
   * The SIZE the client declared at MAIL (RFC 1870), or null. The exact size is known only at
   * the end of DATA, after the body has streamed on to the backend; the server enforces its
   * own limit (552 5.3.4) while it streams.
   */
  readonly declaredSize: number | null;
}

export type VerdictResult = CheckVerdict | Promise<CheckVerdict>;

export interface Check {
  /** Names the check in logs and tags; unique within one host. */
  readonly name: string;
  /** Per-hook time limit in milliseconds; overrides the host's default. */
  readonly timeoutMs?: number;
  connect?(context: CheckContext): VerdictResult;
  mail?(from: Address | null, context: CheckContext): VerdictResult;
  rcpt?(to: Recipient, context: CheckContext): VerdictResult;
  data?(message: MessageInfo, context: CheckContext): VerdictResult;
}

/** What the host hands a check module's factory. */
export interface CheckHost {
  readonly resolver: DnsResolver;
  readonly logger: CheckLogger;
  /** Where the module's options sit in the host's config, e.g. `checks[2].options`: for errors. */
  readonly path: string;
}

/**
 * The factory a check package exports (as `createCheck`, or as its default export). It
 * validates `options` itself and throws CheckConfigError, with paths under `host.path`, when
 * they are wrong.
 */
export type CheckFactory = (options: unknown, host: CheckHost) => Check | Promise<Check>;
