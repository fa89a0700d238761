// The Received: trace header the server prepends to every accepted message: RFC 5321 §4.4
// (Time-stamp-line: from / by / with / id / for / date), the protocol words of RFC 3848
// (ESMTP, ESMTPA, ESMTPS, ESMTPSA) and RFC 6531 §4.3 (UTF8SMTP, UTF8SMTPA, UTF8SMTPS,
// UTF8SMTPSA), dates in RFC 5322 §3.3 form.

import { type Address, formatAddress } from '../address.ts';

export interface ReceivedHeaderInput {
  /** HELO/EHLO argument as the client sent it, or null. */
  readonly helo: string | null;
  readonly esmtp: boolean;
  readonly remoteAddress: string;
  /** Our own host name (the `by` clause). */
  readonly hostname: string;
  readonly secure: boolean;
  readonly tls: { readonly protocol: string; readonly cipher: string } | null;
  readonly authenticated: boolean;
  readonly smtputf8: boolean;
  /** The `id` clause: sessionId and transaction number. */
  readonly id: string;
  readonly rcptTo: readonly Address[];
  readonly date: Date;
}

/** The RFC 3848 / RFC 6531 `with` protocol word. */
export function protocolWord(input: {
  readonly esmtp: boolean;
  readonly secure: boolean;
  readonly authenticated: boolean;
  readonly smtputf8: boolean;
}): string {
  if (!input.esmtp) return 'SMTP';
  const base = input.smtputf8 ? 'UTF8SMTP' : 'ESMTP';
  return `${base}${input.secure ? 'S' : ''}${input.authenticated ? 'A' : ''}`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Two digits; a table, because this runs for every message. */
const TWO = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));

// The last date formatted and its second: a busy server stamps many messages per second.
let lastSecond = Number.NaN;
let lastText = '';

/** RFC 5322 §3.3 date-time in UTC, e.g. `Sun, 29 Nov 2026 10:18:57 +0000`. */
export function formatDate(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastSecond) return lastText;
  const text =
    `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${TWO[date.getUTCHours()]}:${TWO[date.getUTCMinutes()]}:${TWO[date.getUTCSeconds()]} +0000`;
  lastSecond = second;
  lastText = text;
  return text;
}

const UNSAFE_TOKEN = /[^\x21-\x7e]|[()\\;"<>]/g;

/**
 * The HELO argument goes into a header: keep it one printable token without the characters
 * that would end the clause or open a comment.
 */
function safeToken(text: string): string {
  const cleaned = text.replace(UNSAFE_TOKEN, '_');
  return cleaned.length > 0 ? cleaned : 'unknown';
}

function addressLiteral(ip: string): string {
  return ip.includes(':') ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** What the start of the header depends on: the connection, and SMTPUTF8 of the transaction. */
export type ReceivedHeaderStart = Omit<ReceivedHeaderInput, 'id' | 'rcptTo' | 'date'>;

/**
 * The `from`, `by` and `with` clauses: the same for every message of a connection (until
 * HELO, STARTTLS or AUTH), so the server keeps them between messages.
 */
export function receivedHeaderStart(input: ReceivedHeaderStart): string {
  const literal = addressLiteral(input.remoteAddress);
  const from = input.helo === null ? literal : `${safeToken(input.helo)} (${literal})`;
  const tls = input.tls ? ` (${safeToken(input.tls.protocol)} cipher ${safeToken(input.tls.cipher)})` : '';
  return `Received: from ${from}\r\n\tby ${safeToken(input.hostname)} (Mailyard)\r\n\twith ${protocolWord(input)}${tls}`;
}

/** The `id` and `for` clauses and the date, ending in CRLF: per message. */
export function receivedHeaderEnd(input: Pick<ReceivedHeaderInput, 'id' | 'rcptTo' | 'date'>): string {
  const only = input.rcptTo.length === 1 ? input.rcptTo[0] : undefined;
  // RFC 5321 §7.2: naming one recipient is fine, listing several would disclose Bcc copies.
  const tail = only ? `\r\n\tfor <${formatAddress(only)}>;` : ';';
  return `\r\n\tid ${safeToken(input.id)}${tail}\r\n\t${formatDate(input.date)}\r\n`;
}

/** Builds the header as bytes ready to prepend, folded, ending in CRLF. */
export function buildReceivedHeader(input: ReceivedHeaderInput): string {
  return receivedHeaderStart(input) + receivedHeaderEnd(input);
}
