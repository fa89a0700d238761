// The backend contract of the SMTP server: one session per connection, one promise-returning
// method per transaction command (the go-smtp shape, STYLE.md). The server owns the protocol
// (RFC 5321 §4.1 command sequencing, §4.2 replies); the backend owns policy and storage.

import type { Readable } from 'node:stream';
import type { Address } from '../address.ts';
import type { Envelope, MailParams, Recipient } from '../envelope.ts';

/** What the server knows about one connection. A live view: fields update as the session goes on. */
export interface ConnectionInfo {
  /** Random id of the connection, for logs and the Received header. */
  readonly sessionId: string;
  /** Name of the listener that accepted the connection. */
  readonly listener: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** No reverse DNS is done: the address literal of the client, e.g. `[192.0.2.1]`. */
  readonly clientHostname: string;
  /** The HELO/EHLO argument; `null` before it (and again after STARTTLS, RFC 3207 §4.2). */
  readonly helo: string | null;
  /** True once the client greeted with EHLO (ESMTP). */
  readonly esmtp: boolean;
  /** True on an implicit TLS listener and after STARTTLS. */
  readonly secure: boolean;
  /** The negotiated TLS parameters, when secure. */
  readonly tls: { readonly protocol: string; readonly cipher: string } | null;
  /** The authenticated user (what `backend.auth` resolved), or `null`. */
  readonly user: string | null;
}

export interface AuthCredentials {
  readonly method: 'PLAIN' | 'LOGIN';
  readonly username: string;
  readonly password: string;
}

export interface SmtpSession {
  /** MAIL FROM accepted by the server's syntax checks; throw SmtpError to refuse it. */
  mail(from: Address | null, params: MailParams): Promise<void>;
  /** RCPT TO; `envelope` holds the recipients accepted so far. Throw SmtpError to refuse. */
  rcpt(to: Recipient, envelope: Envelope): Promise<void>;
  /**
   * The message, with the server's Received: header prepended, dot-unstuffed, CRLF line ends.
   * Resolve to accept (`250`; a string becomes the reply text, e.g. `queued as ID`); throw
   * SmtpError to refuse. If the message turns out oversized or malformed while streaming, the
   * stream is destroyed with that SmtpError and the server replies with it.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: `async data() {}` (resolving nothing) must fit.
  data(message: Readable, envelope: Envelope): Promise<string | void>;
  /** The open transaction ended (RSET, a new HELO/EHLO, STARTTLS, or after DATA). */
  reset?(): void;
  /** The connection closed. */
  close?(): void;
}

export interface SmtpBackend {
  /** One session per connection; throw SmtpError to refuse the connection (e.g. 554 5.7.1). */
  connect(info: ConnectionInfo): SmtpSession | Promise<SmtpSession>;
  /**
   * Verifies AUTH PLAIN/LOGIN credentials; absent = AUTH not offered. Resolve the authenticated
   * user, or null for 535 5.7.8.
   */
  auth?(credentials: AuthCredentials, info: ConnectionInfo): Promise<string | null>;
  /** Advertise DSN (RFC 3461) and accept RET/ENVID/NOTIFY/ORCPT. */
  readonly dsn?: boolean;
}
