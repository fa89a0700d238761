// Mailbox addresses as SMTP carries them: RFC 5321 §4.1.2 (Mailbox, Dot-string, Quoted-string,
// address literals), §4.5.3.1 (size limits), RFC 6531 §3.3 (UTF-8 local parts under SMTPUTF8)
// and RFC 5890 (IDN domains travel as A-labels).

import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { SmtpError } from './smtp-error.ts';

export interface Address {
  /** As received: case is preserved, because only the destination may interpret it. */
  readonly localPart: string;
  /** Lower-case ASCII: A-labels for IDN, or an address literal such as `[192.0.2.1]`. */
  readonly domain: string;
}

export interface ParseAddressOptions {
  /** Allow UTF-8 in the local part (the client used the SMTPUTF8 parameter). */
  readonly smtputf8?: boolean;
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
const ATEXT_UTF8 = /^(?:[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]|[^\x00-\x7f])+$/u;
const QTEXT_OR_PAIR = /^(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*$/;
const QTEXT_OR_PAIR_UTF8 = /^(?:[\x20\x21\x23-\x5b\x5d-\x7e]|[^\x00-\x7f]|\\[\x20-\x7e])*$/u;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 255;

function syntaxError(reason: string): SmtpError {
  return new SmtpError(501, '5.1.3', `Bad address syntax: ${reason}`);
}

function isDotString(text: string, utf8: boolean): boolean {
  const atext = utf8 ? ATEXT_UTF8 : ATEXT;
  return text.split('.').every((atom) => atext.test(atom));
}

function parseLocalPart(text: string, utf8: boolean): string {
  if (text.startsWith('"')) {
    if (text.length < 2 || !text.endsWith('"')) throw syntaxError('unterminated quoted local part');
    const inner = text.slice(1, -1);
    if (!(utf8 ? QTEXT_OR_PAIR_UTF8 : QTEXT_OR_PAIR).test(inner) || /(?:^|[^\\])(?:\\\\)*\\$/.test(inner)) {
      throw syntaxError('invalid quoted local part');
    }
    // Keep the canonical unquoted content: `"a\"b"` is the local part `a"b`.
    return inner.replace(/\\([\x20-\x7e])/g, '$1');
  }
  if (!isDotString(text, utf8)) {
    throw syntaxError(
      /[^\x00-\x7f]/.test(text) && !utf8 ? 'UTF-8 local part needs SMTPUTF8' : 'invalid local part',
    );
  }
  return text;
}

/** Normalises a domain to lower-case A-labels, or throws 501 5.1.3. */
export function normalizeDomain(text: string): string {
  if (text.startsWith('[')) return parseAddressLiteral(text);
  if (text.length === 0) throw syntaxError('empty domain');
  if (text.endsWith('.')) throw syntaxError('domain ends with a dot');
  const ascii = /^[\x00-\x7f]*$/.test(text) ? text.toLowerCase() : domainToASCII(text);
  if (!ascii) throw syntaxError('invalid internationalised domain');
  if (ascii.length > MAX_DOMAIN) throw syntaxError('domain too long');
  for (const label of ascii.split('.')) {
    if (!LDH_LABEL.test(label)) throw syntaxError('invalid domain');
  }
  return ascii;
}

function parseAddressLiteral(text: string): string {
  if (!text.endsWith(']')) throw syntaxError('unterminated address literal');
  const inner = text.slice(1, -1);
  if (isIPv4(inner)) return `[${inner}]`;
  if (/^ipv6:/i.test(inner) && isIPv6(inner.slice(5))) return `[IPv6:${inner.slice(5).toLowerCase()}]`;
  throw syntaxError('invalid address literal');
}

/** Finds the `@` that separates local part and domain: the last one outside quotes. */
function splitAt(text: string): number {
  let quoted = false;
  let at = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === '\\') i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === '@' && !quoted) at = i;
  }
  return at;
}

/** Parses `local@domain` (no angle brackets). Throws SmtpError 501 5.1.3 on bad syntax. */
export function parseAddress(text: string, options: ParseAddressOptions = {}): Address {
  const utf8 = options.smtputf8 ?? false;
  const at = splitAt(text);
  if (at <= 0 || at === text.length - 1) throw syntaxError('expected local-part@domain');
  const rawLocal = text.slice(0, at);
  if (Buffer.byteLength(rawLocal) > MAX_LOCAL_PART) throw syntaxError('local part too long');
  const localPart = parseLocalPart(rawLocal, utf8);
  const domain = normalizeDomain(text.slice(at + 1));
  return { localPart, domain };
}

/**
 * Parses an SMTP path `<...>` from MAIL FROM or RCPT TO. `<>` is the null reverse-path and
 * yields `null`. A source route (`<@a,@b:user@c>`) is accepted and ignored, as RFC 5321
 * §4.1.1.3 asks; the mailbox after it is what counts.
 */
export function parsePath(text: string, options: ParseAddressOptions = {}): Address | null {
  const trimmed = text.trim();
  if (!trimmed.startsWith('<') || !trimmed.endsWith('>')) throw syntaxError('path must be in angle brackets');
  let inner = trimmed.slice(1, -1);
  if (inner === '') return null;
  if (inner.startsWith('@')) {
    const colon = inner.indexOf(':');
    if (colon < 0) throw syntaxError('invalid source route');
    for (const hop of inner.slice(0, colon).split(',')) {
      if (!hop.startsWith('@')) throw syntaxError('invalid source route');
      normalizeDomain(hop.slice(1));
    }
    inner = inner.slice(colon + 1);
  }
  return parseAddress(inner, options);
}

/** Formats an address for the wire, quoting the local part when it is not a Dot-string. */
export function formatAddress(address: Address | null): string {
  if (address === null) return '';
  const utf8 = /[^\x00-\x7f]/.test(address.localPart);
  const local = isDotString(address.localPart, utf8)
    ? address.localPart
    : `"${address.localPart.replace(/(["\\])/g, '\\$1')}"`;
  return `${local}@${address.domain}`;
}

/** True when the address needs SMTPUTF8 to travel (RFC 6531): a UTF-8 local part. */
export function needsSmtputf8(address: Address | null): boolean {
  return address !== null && /[^\x00-\x7f]/.test(address.localPart);
}
