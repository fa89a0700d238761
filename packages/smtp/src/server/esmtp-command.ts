// Parses the MAIL and RCPT command lines into the envelope types: the path (RFC 5321 §4.1.2,
// through parsePath, SMTPUTF8-aware per RFC 6531 §3.4) and the ESMTP parameters the server
// advertises: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), and with DSN (RFC 3461
// §4) RET, ENVID, NOTIFY, ORCPT, whose values are xtext (§4) and decoded here, once.
// Any other parameter is refused with 555 5.5.4 (RFC 5321 §4.1.1.11).
// The server parses MAIL and RCPT here and nowhere else (smtp-server's own parser is bypassed,
// see hardened-connection.ts), so this also keeps the limits that parser enforced: no control,
// zero-width or line-breaking characters in a path, and a mailbox of at most 253 octets
// (RFC 5321 §4.5.3.1.3: a path is at most 256 with its punctuation). Path errors are 501 with
// 5.1.7 (sender, RFC 3463 §3.2) or 5.1.3 (recipient). Every message runs through this twice:
// the usual plain dot-atom address takes a single regular expression, the rest parsePath.

import { isAscii } from 'node:buffer';
import { type Address, parsePath } from '../address.ts';
import { decodeXtext, type MailParams, type Notify, type Recipient } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';

export interface EsmtpCommandOptions {
  /** DSN is advertised: RET/ENVID (MAIL) and NOTIFY/ORCPT (RCPT) are accepted. */
  readonly dsn: boolean;
  /** For RCPT: the transaction's MAIL carried SMTPUTF8. */
  readonly smtputf8?: boolean;
  /** Domain for the domainless `<postmaster>` recipient (RFC 5321 §4.1.1.3). */
  readonly postmasterDomain?: string;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})+$/;
/** `<dot-atom@ldh.domain>`, ASCII: what nearly every MAIL and RCPT carries. */
const SIMPLE_PATH =
  /^<([A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*)@([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)>$/;
/** Never in an address: controls (C0, C1), zero-width characters, BOM, line and paragraph separators. */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b\u2028\u2029\u2060\ufeff]/;
/** Characters a command line cannot hold (smtp-server splits lines at LF; a CR may remain). */
const LINE_BREAK = /[\n\r\u2028\u2029]/;
const LABEL_TOO_LONG = /[^.]{64}/;
const SPACE_OR_TAB = /^\s$/;
const MAX_MAILBOX = 253;
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 255;
const MAIL_KEYS = new Set(['SIZE', 'BODY', 'SMTPUTF8']);
const MAIL_KEYS_DSN = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID']);
const PARAM_KEY = /^[A-Z0-9][A-Z0-9-]*$/;
const MAIL_FROM = /^MAIL FROM:/i;
const RCPT_TO = /^RCPT TO:/i;

function syntax(message: string): SmtpError {
  return new SmtpError(501, '5.5.4', message);
}

/** 501 with the address status of the command: 5.1.7 for MAIL, 5.1.3 for RCPT. */
function badPath(enhanced: string, message: string): SmtpError {
  return new SmtpError(501, enhanced, message);
}

function unsupported(key: string): SmtpError {
  return new SmtpError(555, '5.5.4', `Unsupported parameter ${key}`);
}

/** Decodes the raw command bytes; refuses invalid UTF-8 (RFC 6531 §3.2 needs valid UTF-8). */
export function commandText(raw: Uint8Array | string): string {
  if (typeof raw === 'string') return raw;
  // Nearly every command is ASCII: skip the UTF-8 decoder for those.
  if (isAscii(raw)) {
    const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return bytes.toString('latin1');
  }
  try {
    return UTF8.decode(raw);
  } catch {
    throw new SmtpError(501, '5.6.7', 'Invalid UTF-8 in command');
  }
}

interface SplitCommand {
  readonly path: string;
  /** null when the command carries no parameters. */
  readonly params: Map<string, string | true> | null;
}

/** Splits `VERB:<path> params`; `prefix` matches the verb with its colon, `length` long. */
function splitCommand(line: string, prefix: RegExp, length: number, pathStatus: string): SplitCommand {
  const text = line.trim();
  if (!prefix.test(text)) throw badPath(pathStatus, 'Syntax error in parameters');
  if (LINE_BREAK.test(text)) throw syntax('Syntax error in parameters');
  // One optional whitespace after the colon, as RFC 5321 §4.1.1.2 readers commonly allow.
  const skip = text.length > length && SPACE_OR_TAB.test(text[length] ?? '') ? 1 : 0;
  const start = length + skip;
  const close = text.indexOf('>', start);
  if (text[start] !== '<' || close < 0)
    throw badPath(pathStatus, 'Syntax error: path must be in angle brackets');
  const path = text.slice(start, close + 1);
  if (close + 1 === text.length) return { path, params: null };
  if (text[close + 1] !== ' ') throw badPath(pathStatus, 'Syntax error after path');
  const params = new Map<string, string | true>();
  for (const word of text.slice(close + 2).split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    if (!PARAM_KEY.test(key)) throw syntax('Syntax error in parameters');
    if (params.has(key)) throw syntax(`Duplicate ${key} parameter`);
    params.set(key, eq < 0 ? true : word.slice(eq + 1));
  }
  return { path, params };
}

/**
 * The path `<...>` as an Address (null for `<>`), with parsePath's result; path errors become
 * 501 `pathStatus`.
 */
function addressOf(path: string, smtputf8: boolean, pathStatus: string): Address | null {
  const simple = SIMPLE_PATH.exec(path);
  if (simple !== null) {
    // The regular expression checked the syntax; the sizes are left (RFC 5321 §4.5.3.1).
    const localPart = simple[1] ?? '';
    const domain = simple[2] ?? '';
    if (
      localPart.length <= MAX_LOCAL_PART &&
      domain.length <= MAX_DOMAIN &&
      path.length - 2 <= MAX_MAILBOX &&
      (domain.length < 64 || !LABEL_TOO_LONG.test(domain))
    ) {
      return { localPart, domain: domain.toLowerCase() };
    }
  }
  if (UNSAFE.test(path)) throw badPath(pathStatus, 'Bad address syntax: forbidden character');
  // The mailbox without a source route (RFC 5321 §4.1.2), as received.
  const mailbox = path.startsWith('<@') ? path.slice(path.indexOf(':') + 1, -1) : path.slice(1, -1);
  if (mailbox.length > MAX_MAILBOX) throw badPath(pathStatus, 'Bad address syntax: path too long');
  try {
    return parsePath(path, { smtputf8 });
  } catch (error) {
    if (error instanceof SmtpError) throw badPath(pathStatus, error.message);
    throw error;
  }
}

function paramValue(params: Map<string, string | true>, key: string): string | undefined {
  const value = params.get(key);
  if (value === undefined) return undefined;
  if (value === true || value === '') throw syntax(`${key} parameter requires a value`);
  return value;
}

function xtext(key: string, value: string, maxDecoded: number): string {
  if (!XTEXT.test(value)) throw syntax(`Bad ${key} parameter syntax`);
  const decoded = decodeXtext(value);
  if (decoded.length > maxDecoded || /[\x00-\x1f\x7f]/.test(decoded)) {
    throw syntax(`Bad ${key} parameter value`);
  }
  return decoded;
}

export interface ParsedMail {
  readonly from: Address | null;
  readonly params: MailParams;
}

/** Parses `MAIL FROM:<path> [params]`. Throws SmtpError (501/555) on bad syntax. */
export function parseMailCommand(line: string, options: EsmtpCommandOptions): ParsedMail {
  const { path, params } = splitCommand(line, MAIL_FROM, 'MAIL FROM:'.length, '5.1.7');
  const result: { -readonly [K in keyof MailParams]: MailParams[K] } = {};
  if (params !== null) {
    const known = options.dsn ? MAIL_KEYS_DSN : MAIL_KEYS;
    for (const key of params.keys()) {
      if (!known.has(key)) throw unsupported(key);
    }
    const size = paramValue(params, 'SIZE');
    if (size !== undefined) {
      if (!/^\d{1,20}$/.test(size)) throw syntax('Bad SIZE parameter syntax');
      result.size = Number(size);
    }
    const body = paramValue(params, 'BODY')?.toUpperCase();
    if (body !== undefined) {
      if (body !== '7BIT' && body !== '8BITMIME') throw syntax('BODY must be 7BIT or 8BITMIME');
      result.body = body;
    }
    if (params.has('SMTPUTF8')) {
      if (params.get('SMTPUTF8') !== true) throw syntax('SMTPUTF8 takes no value');
      result.smtputf8 = true;
    }
    const ret = paramValue(params, 'RET')?.toUpperCase();
    if (ret !== undefined) {
      if (ret !== 'FULL' && ret !== 'HDRS') throw syntax('RET must be FULL or HDRS');
      result.ret = ret;
    }
    const envid = paramValue(params, 'ENVID');
    // RFC 3461 §4.4: ENVID is at most 100 characters.
    if (envid !== undefined) result.envid = xtext('ENVID', envid, 100);
  }
  return { from: addressOf(path, result.smtputf8 ?? false, '5.1.7'), params: result };
}

function parseNotify(value: string): 'NEVER' | readonly Notify[] {
  const words = value.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') return 'NEVER';
  const notify: Notify[] = [];
  for (const word of words) {
    if (word !== 'SUCCESS' && word !== 'FAILURE' && word !== 'DELAY') {
      throw syntax('NOTIFY must be NEVER, or a list of SUCCESS, FAILURE, DELAY');
    }
    if (!notify.includes(word)) notify.push(word);
  }
  return notify;
}

/** Parses `RCPT TO:<path> [params]`. Throws SmtpError (501/555) on bad syntax. */
export function parseRcptCommand(line: string, options: EsmtpCommandOptions): Recipient {
  const { path, params } = splitCommand(line, RCPT_TO, 'RCPT TO:'.length, '5.1.3');
  if (params !== null) {
    for (const key of params.keys()) {
      if (!options.dsn || (key !== 'NOTIFY' && key !== 'ORCPT')) throw unsupported(key);
    }
  }
  let address: Address | null;
  if (options.postmasterDomain && /^<postmaster>$/i.test(path)) {
    address = { localPart: 'postmaster', domain: options.postmasterDomain.toLowerCase() };
  } else {
    address = addressOf(path, options.smtputf8 ?? false, '5.1.3');
  }
  if (address === null) throw new SmtpError(501, '5.1.3', 'Bad recipient address syntax');
  const recipient: { -readonly [K in keyof Recipient]: Recipient[K] } = { address };
  if (params === null) return recipient;
  const notify = paramValue(params, 'NOTIFY');
  if (notify !== undefined) recipient.notify = parseNotify(notify);
  const orcpt = paramValue(params, 'ORCPT');
  if (orcpt !== undefined) {
    const semi = orcpt.indexOf(';');
    const type = orcpt.slice(0, semi);
    if (semi <= 0 || !/^[A-Za-z0-9-]+$/.test(type)) throw syntax('Bad ORCPT parameter syntax');
    // RFC 3461 §4.2: the original recipient is at most 500 characters.
    recipient.orcpt = `${type};${xtext('ORCPT', orcpt.slice(semi + 1), 500)}`;
  }
  return recipient;
}
