// Reads delivery status notifications: RFC 6522 multipart/report (found at the top or nested
// in a forwarded multipart), RFC 3464 §2.1-§2.3 per-message and per-recipient fields, RFC 6533
// global variants, and the returned original (text/rfc822-headers, message/rfc822, message/global,
// message/global-headers). Lenient on purpose: bounces come from every MTA ever written.

import { decodeXtext } from '../envelope.ts';
import {
  type ContentType,
  decodedBody,
  field,
  type HeaderField,
  type MimeEntity,
  parseContentType,
  parseEntity,
  parseFields,
  splitMultipart,
  stripComments,
  utf8,
} from './mime-entity.ts';

export interface ParsedDsnRecipient {
  /** The address, without its type (`rfc822;` / `utf-8;`) or angle brackets. */
  readonly finalRecipient: string;
  /** The ORCPT the sender gave, without its type. */
  readonly originalRecipient?: string;
  /** `failed`, `delayed`, `delivered`, `relayed`, `expanded` (lower-cased; other values kept as sent). */
  readonly action: string;
  /** RFC 3463 code, e.g. `5.1.1`; empty when the field was missing or unreadable. */
  readonly status: string;
  /** Host name, without its `dns;` type. */
  readonly remoteMta?: string;
  /** The diagnostic text after its type, e.g. `550 5.1.1 user unknown` from `smtp; 550 …`. */
  readonly diagnosticCode?: string;
  readonly lastAttemptDate?: Date;
  readonly willRetryUntil?: Date;
  /** Every field of this recipient's group (lower-case names, unfolded values), extensions included. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface ParsedDsn {
  /** Host name, without its `dns;` type; empty when the report has none. */
  readonly reportingMta: string;
  /** The sender's ENVID, xtext-decoded. */
  readonly envid?: string;
  readonly arrivalDate?: Date;
  readonly receivedFromMta?: string;
  readonly recipients: readonly ParsedDsnRecipient[];
  /** Header block of the returned original, when the report carries one. */
  readonly originalHeaders?: string;
  /** Every per-message field (lower-case names, unfolded values). */
  readonly fields: Readonly<Record<string, string>>;
}

const STATUS_TYPES = new Set([
  'message/delivery-status',
  'message/global-delivery-status',
  // Seen from old gateways; same grammar.
  'text/delivery-status',
]);
const ORIGINAL_TYPES = new Set([
  'text/rfc822-headers',
  'message/rfc822',
  'message/global',
  'message/global-headers',
  'message/rfc822-headers',
]);
const MAX_DEPTH = 5;

interface Report {
  readonly parts: readonly MimeEntity[];
}

function contentType(entity: MimeEntity): ContentType {
  return parseContentType(field(entity.fields, 'content-type'));
}

/** The first multipart/report in the entity, looking into nested multiparts. */
function findReport(entity: MimeEntity, depth: number): Report | null {
  const type = contentType(entity);
  if (!type.mediaType.startsWith('multipart/') || depth > MAX_DEPTH) return null;
  const boundary = type.params.boundary;
  if (!boundary) return null;
  const parts = splitMultipart(entity.body, boundary).map(parseEntity);
  if (type.mediaType === 'multipart/report') return { parts };
  for (const part of parts) {
    const found = findReport(part, depth + 1);
    if (found) return found;
  }
  return null;
}

function clean(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/**
 * `dns; mx.example.com` → `mx.example.com`. The type is one token before the first `;`; a value
 * without one (`550 user unknown; disabled`) is kept whole. RFC 6533 `\x{HEX}` escapes in a
 * `utf-8` value are decoded.
 */
function untyped(value: string): string {
  const typed = /^\s*([A-Za-z0-9][\w.+-]*)\s*;([\s\S]*)$/.exec(value);
  let text = clean(typed ? typed[2]! : value);
  if (typed?.[1]?.toLowerCase() === 'utf-8') {
    text = text.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (sequence, hex: string) => {
      const code = Number.parseInt(hex, 16);
      return code <= 0x10ffff ? String.fromCodePoint(code) : sequence;
    });
  }
  return text.replace(/^<(.*)>$/, '$1');
}

function date(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(clean(stripComments(value)));
  return Number.isNaN(time) ? undefined : new Date(time);
}

function record(fields: readonly HeaderField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fields) {
    if (!(entry.name in out)) out[entry.name] = clean(utf8(entry.value));
  }
  return out;
}

/** The blank-line-separated field groups of a delivery-status body (RFC 3464 §2.1). */
function fieldGroups(body: string): Record<string, string>[] {
  const groups: Record<string, string>[] = [];
  for (const block of body.split(/\r?\n(?:[ \t]*\r?\n)+/)) {
    const fields = parseFields(block);
    if (fields.length > 0) groups.push(record(fields));
  }
  return groups;
}

function recipient(fields: Record<string, string>): ParsedDsnRecipient {
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
  const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(stripComments(fields.status ?? ''))?.[1] ?? '';
  const action = clean(stripComments(fields.action ?? ''))
    .split(' ')[0]!
    .toLowerCase();
  const diagnostic = fields['diagnostic-code'];
  return {
    finalRecipient: untyped(fields['final-recipient'] ?? fields['original-recipient'] ?? ''),
    ...optional('originalRecipient', fields['original-recipient'] && untyped(fields['original-recipient'])),
    action,
    status,
    ...optional('remoteMta', fields['remote-mta'] && untyped(fields['remote-mta'])),
    ...optional('diagnosticCode', diagnostic && untyped(diagnostic)),
    ...optional('lastAttemptDate', date(fields['last-attempt-date'])),
    ...optional('willRetryUntil', date(fields['will-retry-until'])),
    fields,
  };
}

function originalHeaders(part: MimeEntity): string {
  const content = decodedBody(part);
  const type = contentType(part).mediaType;
  // A returned message carries its headers first; a headers part is nothing but headers.
  const header =
    type === 'message/rfc822' || type === 'message/global' ? parseEntity(content).header : content;
  return utf8(header);
}

/**
 * Parses a DSN (headers and body, as received). Returns null when the message is not one:
 * no multipart/report, no delivery-status part, or no recipient in it.
 */
export function parseDsn(raw: Buffer | string): ParsedDsn | null {
  const binary = (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw).toString('latin1');
  const report = findReport(parseEntity(binary), 0);
  if (!report) return null;
  const statusIndex = report.parts.findIndex((part) => STATUS_TYPES.has(contentType(part).mediaType));
  const statusPart = report.parts[statusIndex];
  if (!statusPart) return null;
  const groups = fieldGroups(decodedBody(statusPart));
  // RFC 3464 puts the per-message group first; a report that omits it starts with a recipient.
  const first = groups[0] ?? {};
  const hasPerMessage = !('final-recipient' in first);
  const perMessage = hasPerMessage ? first : {};
  const recipients = groups
    .slice(hasPerMessage ? 1 : 0)
    .filter((fields) => 'final-recipient' in fields || 'original-recipient' in fields)
    .map(recipient);
  if (recipients.length === 0) return null;
  const original = report.parts
    .slice(statusIndex + 1)
    .find((part) => ORIGINAL_TYPES.has(contentType(part).mediaType));
  const envid = perMessage['original-envelope-id'];
  const arrivalDate = date(perMessage['arrival-date']);
  const receivedFrom = perMessage['received-from-mta'];
  return {
    reportingMta: untyped(perMessage['reporting-mta'] ?? ''),
    ...(envid === undefined ? {} : { envid: decodeXtext(envid) }),
    ...(arrivalDate === undefined ? {} : { arrivalDate }),
    ...(receivedFrom === undefined ? {} : { receivedFromMta: untyped(receivedFrom) }),
    recipients,
    ...(original === undefined ? {} : { originalHeaders: originalHeaders(original) }),
    fields: perMessage,
  };
}
