// Parses the MAIL and RCPT command lines into the envelope types: the path (RFC 5321 §4.1.2,
// through parsePath, SMTPUTF8-aware per RFC 6531 §3.4) and the ESMTP parameters the server
// advertises: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), and with DSN (RFC 3461
// §4) RET, ENVID, NOTIFY, ORCPT, whose values are xtext (§4) and decoded here, once.
// Any other parameter is refused with 555 5.5.4 (RFC 5321 §4.1.1.11).

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

function syntax(message: string): SmtpError {
  return new SmtpError(501, '5.5.4', message);
}

function unsupported(key: string): SmtpError {
  return new SmtpError(555, '5.5.4', `Unsupported parameter ${key}`);
}

/** Decodes the raw command bytes; refuses invalid UTF-8 (RFC 6531 §3.2 needs valid UTF-8). */
export function commandText(raw: Uint8Array | string): string {
  if (typeof raw === 'string') return raw;
  // Nearly every command is ASCII: skip the UTF-8 decoder for those.
  if (isAscii(raw)) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  try {
    return UTF8.decode(raw);
  } catch {
    throw new SmtpError(501, '5.6.7', 'Invalid UTF-8 in command');
  }
}

interface SplitCommand {
  readonly path: string;
  readonly params: Map<string, string | true>;
}

function splitCommand(line: string, verb: RegExp): SplitCommand {
  const match = verb.exec(line.trim());
  if (!match) throw syntax('Syntax error in parameters');
  const rest = match[1] ?? '';
  const close = rest.indexOf('>');
  if (!rest.startsWith('<') || close < 0) throw syntax('Syntax error: path must be in angle brackets');
  const path = rest.slice(0, close + 1);
  const tail = rest.slice(close + 1);
  if (tail !== '' && !/^ /.test(tail)) throw syntax('Syntax error after path');
  const params = new Map<string, string | true>();
  for (const word of tail.split(' ').filter((w) => w !== '')) {
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) throw syntax('Syntax error in parameters');
    if (params.has(key)) throw syntax(`Duplicate ${key} parameter`);
    params.set(key, eq < 0 ? true : word.slice(eq + 1));
  }
  return { path, params };
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
  const { path, params } = splitCommand(line, /^MAIL FROM:\s?(.*)$/i);
  const result: { -readonly [K in keyof MailParams]: MailParams[K] } = {};
  for (const key of params.keys()) {
    const known = ['SIZE', 'BODY', 'SMTPUTF8', ...(options.dsn ? ['RET', 'ENVID'] : [])];
    if (!known.includes(key)) throw unsupported(key);
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
  let from: Address | null;
  try {
    from = parsePath(path, { smtputf8: result.smtputf8 ?? false });
  } catch (error) {
    if (error instanceof SmtpError) throw new SmtpError(501, '5.1.7', error.message);
    throw error;
  }
  return { from, params: result };
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
  const { path, params } = splitCommand(line, /^RCPT TO:\s?(.*)$/i);
  for (const key of params.keys()) {
    if (!options.dsn || (key !== 'NOTIFY' && key !== 'ORCPT')) throw unsupported(key);
  }
  let address: Address | null;
  if (/^<postmaster>$/i.test(path) && options.postmasterDomain) {
    address = { localPart: 'postmaster', domain: options.postmasterDomain.toLowerCase() };
  } else {
    address = parsePath(path, { smtputf8: options.smtputf8 ?? false });
  }
  if (address === null) throw new SmtpError(501, '5.1.3', 'Bad recipient address syntax');
  const recipient: { -readonly [K in keyof Recipient]: Recipient[K] } = { address };
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
