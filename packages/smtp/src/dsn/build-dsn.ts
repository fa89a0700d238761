// Builds delivery status notifications: RFC 3464 (message/delivery-status fields), RFC 6522
// (multipart/report), RFC 3461 §6 (ENVID, ORCPT, RET), RFC 3834 §5 (Auto-Submitted), and
// RFC 6533 §3-§6 (global variants when an address or the original header block is UTF-8).
// The result is sent with the null sender (RFC 5321 §4.5.5) so it can never bounce back.

import { createHash, randomUUID } from 'node:crypto';
import { type Address, formatAddress } from '../address.ts';
import { type Envelope, encodeXtext, type Recipient } from '../envelope.ts';
import type { SmtpError } from '../smtp-error.ts';
import {
  cleanFieldText,
  foldField,
  formatDate,
  hasOverlongLine,
  isEightBit,
  toCrlf,
  wrapText,
} from './dsn-format.ts';
import type { DsnAction } from './dsn-policy.ts';

const CRLF = '\r\n';
const STATUS = /^[245]\.\d{1,3}\.\d{1,3}$/;

/** What happened to one recipient. */
export interface DsnRecipientReport {
  /** The recipient as the envelope carried it (its `orcpt` becomes Original-Recipient). */
  readonly recipient: Recipient;
  readonly action: DsnAction;
  /** The failure or deferral: gives Status (its enhanced code) and, by default, Diagnostic-Code. */
  readonly error?: SmtpError;
  /** RFC 3463 status; default: `error.enhanced`, the code in `diagnosticCode`, else 2.0.0 / 4.0.0 / 5.0.0 by action. */
  readonly status?: string;
  /** The remote reply for `Diagnostic-Code: smtp; …`; default: `error.reply`. */
  readonly diagnosticCode?: string;
  /** Host name of the MTA that gave the reply (`Remote-MTA: dns; …`). */
  readonly remoteMta?: string;
  readonly lastAttemptDate?: Date;
  /** Only reported for `delayed`: when the queue gives up. */
  readonly willRetryUntil?: Date;
}

export interface BuildDsnOptions {
  /** Host name of this MTA (`Reporting-MTA: dns; …`). */
  readonly reportingMta: string;
  /** Domain of the `MAILER-DAEMON@…` From address; default: `reportingMta`. */
  readonly reportingDomain?: string;
  /** The original message's envelope: mailFrom receives the DSN; params give RET and ENVID. */
  readonly envelope: Envelope;
  /** The recipients to report, exactly these (filter with `wantsDsn` first). */
  readonly recipients: readonly DsnRecipientReport[];
  /** The original message (headers and body), returned whole or as headers per RET. */
  readonly message?: Buffer | string;
  /** When the original message arrived. */
  readonly arrivalDate?: Date;
  /** Host name of the MTA we received the original from (`Received-From-MTA: dns; …`). */
  readonly receivedFromMta?: string;
  /** Our queue id of the original, written as `X-Mailyard-Queue-ID`, for the postmaster. */
  readonly queueId?: string;
  /**
   * What to return when the sender gave no RET (RFC 3461 §4.3 leaves it to the MTA).
   * Default `'HDRS'`: headers identify the message without echoing its content.
   */
  readonly defaultRet?: 'FULL' | 'HDRS';
  /** Largest original (octets) returned whole; a bigger one is returned as headers. Default 50 000. */
  readonly maxReturnSize?: number;
  readonly subject?: string;
  /** Clock for Date; default `new Date()`. */
  readonly now?: () => Date;
  /** Message-ID generator, with or without angle brackets; default a UUID at `reportingMta`. */
  readonly createMessageId?: () => string;
}

export interface Dsn {
  /**
   * How to send it: from the null sender `<>` to the original sender, NOTIFY=NEVER, with
   * BODY=8BITMIME / SMTPUTF8 when the content needs them.
   */
  readonly envelope: Envelope;
  /** The whole message, headers and body, every line ending in CRLF. */
  readonly message: Buffer;
  /** With angle brackets. */
  readonly messageId: string;
  /** What of the original it carries. */
  readonly returned: 'full' | 'headers' | 'none';
}

function utf8Address(address: Address): boolean {
  return isEightBit(address.localPart) || isEightBit(address.domain);
}

/** `rfc822;a@b`, or RFC 6533's `utf-8;…` type when the address is not ASCII. */
function typedAddress(address: string): string {
  return `${isEightBit(address) ? 'utf-8' : 'rfc822'}; ${address}`;
}

function defaultStatus(action: DsnAction): string {
  if (action === 'failed') return '5.0.0';
  if (action === 'delayed') return '4.0.0';
  return '2.0.0';
}

function recipientFields(report: DsnRecipientReport, global: boolean): string[] {
  const diagnostic = report.diagnosticCode ?? report.error?.reply;
  const status =
    report.status ??
    report.error?.enhanced ??
    /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(diagnostic ?? '')?.[1] ??
    defaultStatus(report.action);
  if (!STATUS.test(status)) throw new RangeError(`invalid DSN status ${status}`);
  const fields: string[] = [];
  const orcpt = report.recipient.orcpt;
  if (orcpt !== undefined) {
    fields.push(foldField('Original-Recipient', orcpt.includes(';') ? orcpt : `rfc822; ${orcpt}`));
  }
  fields.push(foldField('Final-Recipient', typedAddress(formatAddress(report.recipient.address))));
  fields.push(`Action: ${report.action}`, `Status: ${status}`);
  if (report.remoteMta) fields.push(foldField('Remote-MTA', `dns; ${report.remoteMta}`));
  if (diagnostic) {
    // The delivery-status part is US-ASCII unless it is the RFC 6533 global variant.
    const text = global ? diagnostic : diagnostic.replace(/[^\x00-\x7f]/g, '?');
    fields.push(foldField('Diagnostic-Code', `smtp; ${text}`));
  }
  if (report.lastAttemptDate) fields.push(`Last-Attempt-Date: ${formatDate(report.lastAttemptDate)}`);
  if (report.action === 'delayed' && report.willRetryUntil) {
    fields.push(`Will-Retry-Until: ${formatDate(report.willRetryUntil)}`);
  }
  return fields;
}

const INTRO: Record<'failed' | 'delayed' | 'success', string> = {
  failed: 'Your message could not be delivered to the recipients below. This is a permanent error.',
  delayed:
    'Your message has not been delivered yet to the recipients below. This is only a warning: the mail system will keep trying, and you need not resend it.',
  success: 'Your message was successfully delivered to the recipients below.',
};

function group(action: DsnAction): 'failed' | 'delayed' | 'success' {
  return action === 'failed' || action === 'delayed' ? action : 'success';
}

function humanText(options: BuildDsnOptions): string {
  const paragraphs = [`This is the mail system at ${options.reportingMta}.`];
  for (const kind of ['failed', 'delayed', 'success'] as const) {
    const reports = options.recipients.filter((report) => group(report.action) === kind);
    if (reports.length === 0) continue;
    paragraphs.push(INTRO[kind]);
    for (const report of reports) {
      const rcpt = formatAddress(report.recipient.address);
      const diagnostic = report.diagnosticCode ?? report.error?.reply;
      const until =
        report.action === 'delayed' && report.willRetryUntil
          ? ` (will retry until ${formatDate(report.willRetryUntil)})`
          : '';
      const where = report.remoteMta ? `, host ${report.remoteMta} said: ` : ': ';
      paragraphs.push(
        `<${rcpt}>: ${report.action}${until}${diagnostic ? `${where}${cleanFieldText(diagnostic)}` : ''}`,
      );
    }
  }
  return wrapText(paragraphs.join('\n\n'));
}

function defaultSubject(recipients: readonly DsnRecipientReport[]): string {
  if (recipients.some((report) => report.action === 'failed')) return 'Undelivered Mail Returned to Sender';
  if (recipients.some((report) => report.action === 'delayed')) return 'Delayed Mail (still being retried)';
  return 'Successful Mail Delivery Report';
}

/** The header block of a CRLF message, through the CRLF that ends its last field. */
function headerBlock(message: Buffer): Buffer {
  if (message.subarray(0, 2).toString('latin1') === CRLF) return Buffer.alloc(0);
  const end = message.indexOf('\r\n\r\n');
  return end < 0 ? message : message.subarray(0, end + 2);
}

interface Returned {
  readonly kind: Dsn['returned'];
  readonly content?: Buffer;
}

function chooseReturn(options: BuildDsnOptions, original: Buffer | undefined): Returned {
  if (!original || original.length === 0) return { kind: 'none' };
  const ret = options.envelope.params.ret ?? options.defaultRet ?? 'HDRS';
  // RET only governs failure reports (RFC 3461 §4.3); delays and successes carry headers.
  const failing = options.recipients.some((report) => report.action === 'failed');
  const limit = options.maxReturnSize ?? 50_000;
  // An 8bit message/rfc822 part may not carry NUL or lines over 998 octets (RFC 2045 §2.8).
  const carriable = !original.includes(0) && !hasOverlongLine(original);
  if (ret === 'FULL' && failing && original.length <= limit && carriable) {
    return { kind: 'full', content: original };
  }
  const headers = headerBlock(original);
  // A header line over 998 octets cannot be carried legally; saying nothing beats breaking MIME.
  if (headers.length === 0 || headers.length > Math.max(limit, 65_536) || hasOverlongLine(headers)) {
    return { kind: 'none' };
  }
  return { kind: 'headers', content: headers };
}

/** A boundary that occurs nowhere in the content, derived from the Message-ID (reproducible). */
function chooseBoundary(messageId: string, parts: readonly Buffer[]): string {
  for (let attempt = 0; ; attempt++) {
    const hash = createHash('sha256').update(`${messageId}/${attempt}`).digest('hex').slice(0, 24);
    const boundary = `=_mailyard-dsn_${hash}`;
    if (!parts.some((part) => part.includes(boundary))) return boundary;
  }
}

function part(headers: readonly string[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${headers.join(CRLF)}${CRLF}${CRLF}`, 'utf8'), body]);
}

function encodingOf(body: Buffer): string {
  return `Content-Transfer-Encoding: ${isEightBit(body) ? '8bit' : '7bit'}`;
}

/**
 * Builds an RFC 3464 DSN for the original envelope's sender. It reports exactly the recipients
 * it is given; deciding who wants one is `wantsDsn`/`mayNotifySender`'s job. Throws a
 * RangeError (a caller bug) for the null sender, no recipients or a malformed status.
 */
export function buildDsn(options: BuildDsnOptions): Dsn {
  const sender = options.envelope.mailFrom;
  if (sender === null) throw new RangeError('a DSN is never sent to the null sender');
  if (options.recipients.length === 0) throw new RangeError('a DSN needs at least one recipient report');
  const now = options.now?.() ?? new Date();
  const rawId = options.createMessageId?.() ?? `${randomUUID()}@${options.reportingMta}`;
  const messageId = rawId.startsWith('<') ? rawId : `<${rawId}>`;
  const original =
    options.message === undefined
      ? undefined
      : toCrlf(typeof options.message === 'string' ? Buffer.from(options.message, 'utf8') : options.message);
  const returned = chooseReturn(options, original);

  const global =
    options.envelope.params.smtputf8 === true ||
    utf8Address(sender) ||
    options.recipients.some(
      (report) => utf8Address(report.recipient.address) || isEightBit(report.recipient.orcpt ?? ''),
    );

  const perMessage = [foldField('Reporting-MTA', `dns; ${options.reportingMta}`)];
  if (options.queueId) perMessage.push(foldField('X-Mailyard-Queue-ID', options.queueId));
  if (options.envelope.params.envid !== undefined) {
    perMessage.push(foldField('Original-Envelope-Id', encodeXtext(options.envelope.params.envid)));
  }
  if (options.receivedFromMta)
    perMessage.push(foldField('Received-From-MTA', `dns; ${options.receivedFromMta}`));
  if (options.arrivalDate) perMessage.push(`Arrival-Date: ${formatDate(options.arrivalDate)}`);
  const groups = [perMessage, ...options.recipients.map((report) => recipientFields(report, global))];
  const statusBody = Buffer.from(groups.map((fields) => `${fields.join(CRLF)}${CRLF}`).join(CRLF), 'utf8');
  const textBody = Buffer.from(humanText(options), 'utf8');

  const parts: Buffer[] = [];
  parts.push(
    part(
      [
        `Content-Type: text/plain; charset=${isEightBit(textBody) ? 'utf-8' : 'us-ascii'}`,
        'Content-Description: Notification',
        encodingOf(textBody),
      ],
      textBody,
    ),
  );
  parts.push(
    part(
      [
        `Content-Type: message/${global ? 'global-delivery-status' : 'delivery-status'}`,
        'Content-Description: Delivery report',
        encodingOf(statusBody),
      ],
      statusBody,
    ),
  );
  if (returned.content) {
    const full = returned.kind === 'full';
    const eightBit = isEightBit(returned.content);
    // RFC 6533 types carry UTF-8 headers; otherwise the classic types (8bit if the original was).
    const type = full
      ? global
        ? 'message/global'
        : 'message/rfc822'
      : global
        ? 'message/global-headers'
        : `text/rfc822-headers${eightBit ? '; charset=utf-8' : ''}`;
    parts.push(
      part(
        [
          `Content-Type: ${type}`,
          `Content-Description: ${full ? 'Undelivered message' : 'Message headers'}`,
          encodingOf(returned.content),
        ],
        returned.content,
      ),
    );
  }

  const boundary = chooseBoundary(messageId, parts);
  const fromDomain = options.reportingDomain ?? options.reportingMta;
  const headers = [
    foldField('From', `Mail Delivery System <MAILER-DAEMON@${fromDomain}>`),
    foldField('To', `<${formatAddress(sender)}>`),
    foldField('Subject', options.subject ?? defaultSubject(options.recipients)),
    `Date: ${formatDate(now)}`,
    foldField('Message-ID', messageId),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=${global ? 'global-delivery-status' : 'delivery-status'};${CRLF} boundary="${boundary}"`,
  ];
  const chunks: Buffer[] = [
    Buffer.from(`${headers.join(CRLF)}${CRLF}${CRLF}This is a MIME-encapsulated message.${CRLF}`, 'utf8'),
  ];
  for (const body of parts) {
    chunks.push(Buffer.from(`${CRLF}--${boundary}${CRLF}`, 'latin1'), body);
  }
  chunks.push(Buffer.from(`${CRLF}--${boundary}--${CRLF}`, 'latin1'));
  const message = Buffer.concat(chunks);

  const eightBit = isEightBit(message);
  return {
    envelope: {
      mailFrom: null,
      rcptTo: [{ address: sender, notify: 'NEVER' }],
      // UTF-8 in the parts travels under 8BITMIME; only a UTF-8 address (envelope, To:) needs SMTPUTF8.
      params: {
        ...(eightBit ? { body: '8BITMIME' as const } : {}),
        ...(utf8Address(sender) ? { smtputf8: true } : {}),
      },
    },
    message,
    messageId,
    returned: returned.kind,
  };
}
