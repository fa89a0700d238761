import { describe, expect, it } from 'vitest';
import { parseAddress } from '../address.ts';
import type { Envelope } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import { type BuildDsnOptions, buildDsn, type DsnRecipientReport } from './build-dsn.ts';
import { field, parseContentType, parseEntity, splitMultipart } from './mime-entity.ts';

const alice = parseAddress('alice@example.com');
const bob = parseAddress('bob@example.net');
const original =
  'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: Hello\r\nMessage-ID: <m1@example.com>\r\n\r\nBody line\r\n';

function envelope(params: Envelope['params'] = {}, mailFrom: Envelope['mailFrom'] = alice): Envelope {
  return { mailFrom, rcptTo: [{ address: bob }], params };
}

const failed: DsnRecipientReport = {
  recipient: { address: bob, orcpt: 'rfc822;Bob@Example.NET' },
  action: 'failed',
  error: SmtpError.fromReply(550, ['5.1.1 <bob@example.net>: Recipient address rejected: User unknown']),
  remoteMta: 'mx1.example.net',
  lastAttemptDate: new Date(Date.UTC(2026, 10, 29, 10, 0, 0)),
};

function build(overrides: Partial<BuildDsnOptions> = {}) {
  return buildDsn({
    reportingMta: 'mx.example.org',
    envelope: envelope(),
    recipients: [failed],
    message: original,
    now: () => new Date(Date.UTC(2026, 10, 29, 10, 5, 0)),
    createMessageId: () => 'dsn-1@mx.example.org',
    ...overrides,
  });
}

/** The top-level header fields and the parts (each with its own fields and body). */
function sections(message: Buffer) {
  const top = parseEntity(message.toString('latin1'));
  const type = parseContentType(field(top.fields, 'content-type'));
  const parts = splitMultipart(top.body, type.params.boundary ?? '').map(parseEntity);
  const header = (name: string) =>
    Buffer.from(field(top.fields, name) ?? '', 'latin1')
      .toString('utf8')
      .trim();
  const partType = (index: number) =>
    parseContentType(field(parts[index]?.fields ?? [], 'content-type')).mediaType;
  const body = (index: number) => Buffer.from(parts[index]?.body ?? '', 'latin1').toString('utf8');
  return { top, type, parts, header, partType, body };
}

describe('buildDsn', () => {
  it('writes a multipart/report of type delivery-status with the three parts', () => {
    const { type, parts, partType } = sections(build({ envelope: envelope({ ret: 'HDRS' }) }).message);
    expect(type.mediaType).toBe('multipart/report');
    expect(type.params['report-type']).toBe('delivery-status');
    expect(parts).toHaveLength(3);
    expect([partType(0), partType(1), partType(2)]).toEqual([
      'text/plain',
      'message/delivery-status',
      'text/rfc822-headers',
    ]);
  });

  it('is addressed from MAILER-DAEMON to the original sender and marked auto-replied', () => {
    const { header } = sections(build({ reportingDomain: 'example.org' }).message);
    expect(header('from')).toBe('Mail Delivery System <MAILER-DAEMON@example.org>');
    expect(header('to')).toBe('<alice@example.com>');
    expect(header('auto-submitted')).toBe('auto-replied');
    expect(header('mime-version')).toBe('1.0');
    expect(header('subject')).toBe('Undelivered Mail Returned to Sender');
  });

  it('takes Date and Message-ID from the injected clock and id generator', () => {
    const dsn = build();
    const { header } = sections(dsn.message);
    expect(header('date')).toBe('Sun, 29 Nov 2026 10:05:00 +0000');
    expect(header('message-id')).toBe('<dsn-1@mx.example.org>');
    expect(dsn.messageId).toBe('<dsn-1@mx.example.org>');
  });

  it('returns an envelope with the null sender, the original sender as recipient and NOTIFY=NEVER', () => {
    const dsn = build();
    expect(dsn.envelope.mailFrom).toBeNull();
    expect(dsn.envelope.rcptTo).toEqual([{ address: alice, notify: 'NEVER' }]);
  });

  it('refuses to build a DSN for the null sender', () => {
    expect(() => build({ envelope: envelope({}, null) })).toThrow(RangeError);
  });

  it('refuses a report without recipients', () => {
    expect(() => build({ recipients: [] })).toThrow(RangeError);
  });

  it('writes the per-message and per-recipient fields of RFC 3464', () => {
    const { body } = sections(
      build({
        envelope: envelope({ envid: 'QQ314159' }),
        arrivalDate: new Date(Date.UTC(2026, 10, 29, 9, 0, 0)),
        receivedFromMta: 'client.example.com',
      }).message,
    );
    const status = body(1);
    expect(status).toContain('Reporting-MTA: dns; mx.example.org\r\n');
    expect(status).toContain('Original-Envelope-Id: QQ314159\r\n');
    expect(status).toContain('Received-From-MTA: dns; client.example.com\r\n');
    expect(status).toContain('Arrival-Date: Sun, 29 Nov 2026 09:00:00 +0000\r\n\r\n');
    expect(status).toContain('Original-Recipient: rfc822;Bob@Example.NET\r\n');
    expect(status).toContain('Final-Recipient: rfc822; bob@example.net\r\n');
    expect(status).toContain('Action: failed\r\nStatus: 5.1.1\r\n');
    expect(status).toContain('Remote-MTA: dns; mx1.example.net\r\n');
    expect(status).toContain('Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address');
    expect(status).toContain('Last-Attempt-Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n');
  });

  it('omits Original-Recipient when the recipient had no ORCPT', () => {
    const { body } = sections(build({ recipients: [{ ...failed, recipient: { address: bob } }] }).message);
    expect(body(1)).not.toContain('Original-Recipient');
  });

  it('xtext-encodes an ENVID with spaces or plus signs', () => {
    const { body } = sections(build({ envelope: envelope({ envid: 'a b+c' }) }).message);
    expect(body(1)).toContain('Original-Envelope-Id: a+20b+2Bc\r\n');
  });

  it('reports a delay with Will-Retry-Until and the delay subject', () => {
    const dsn = build({
      recipients: [
        {
          recipient: { address: bob },
          action: 'delayed',
          error: new SmtpError(451, '4.4.1', 'Connection timed out'),
          willRetryUntil: new Date(Date.UTC(2026, 11, 4, 10, 0, 0)),
        },
      ],
    });
    const { body, header } = sections(dsn.message);
    expect(header('subject')).toBe('Delayed Mail (still being retried)');
    expect(body(1)).toContain('Action: delayed\r\nStatus: 4.4.1\r\n');
    expect(body(1)).toContain('Will-Retry-Until: Fri, 04 Dec 2026 10:00:00 +0000\r\n');
  });

  it('writes Will-Retry-Until only for delayed recipients', () => {
    const { body } = sections(build({ recipients: [{ ...failed, willRetryUntil: new Date(0) }] }).message);
    expect(body(1)).not.toContain('Will-Retry-Until');
  });

  it('reports a successful delivery with status 2.0.0 by default', () => {
    const dsn = build({
      recipients: [
        { recipient: { address: bob }, action: 'delivered', diagnosticCode: '250 2.0.0 Ok: queued as 4F2' },
      ],
    });
    const { body, header } = sections(dsn.message);
    expect(header('subject')).toBe('Successful Mail Delivery Report');
    expect(body(1)).toContain(
      'Action: delivered\r\nStatus: 2.0.0\r\nDiagnostic-Code: smtp; 250 2.0.0 Ok: queued as 4F2\r\n',
    );
  });

  it('takes the status from the enhanced code of a given diagnostic when there is no error', () => {
    const { body } = sections(
      build({
        recipients: [{ recipient: { address: bob }, action: 'failed', diagnosticCode: '554 5.7.1 spam' }],
      }).message,
    );
    expect(body(1)).toContain('Status: 5.7.1\r\n');
  });

  it('refuses a malformed status', () => {
    expect(() => build({ recipients: [{ ...failed, status: '5.1' }] })).toThrow(RangeError);
  });

  it('names every recipient and its remote reply in the human-readable part', () => {
    const { body } = sections(build().message);
    expect(body(0)).toContain('This is the mail system at mx.example.org.');
    expect(body(0).replace(/\r\n/g, ' ')).toContain(
      '<bob@example.net>: failed, host mx1.example.net said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown',
    );
  });

  it('returns only the headers for RET=HDRS', () => {
    const dsn = build({ envelope: envelope({ ret: 'HDRS' }) });
    const { partType, body } = sections(dsn.message);
    expect(dsn.returned).toBe('headers');
    expect(partType(2)).toBe('text/rfc822-headers');
    expect(body(2)).toBe(
      'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: Hello\r\nMessage-ID: <m1@example.com>\r\n',
    );
  });

  it('returns the whole message for RET=FULL', () => {
    const dsn = build({ envelope: envelope({ ret: 'FULL' }) });
    const { partType, body } = sections(dsn.message);
    expect(dsn.returned).toBe('full');
    expect(partType(2)).toBe('message/rfc822');
    expect(body(2)).toBe(original);
  });

  it('returns only the headers when RET is absent, unless defaultRet says FULL', () => {
    expect(build().returned).toBe('headers');
    expect(build({ defaultRet: 'FULL' }).returned).toBe('full');
  });

  it('falls back to the headers when the original is over the size cap', () => {
    const dsn = build({ envelope: envelope({ ret: 'FULL' }), maxReturnSize: 64 });
    expect(dsn.returned).toBe('headers');
    expect(sections(dsn.message).partType(2)).toBe('text/rfc822-headers');
  });

  it('falls back to the headers when the original holds a NUL octet', () => {
    const dsn = build({
      envelope: envelope({ ret: 'FULL' }),
      message: 'From: a@example.com\r\n\r\nnul\0here\r\n',
    });
    expect(dsn.returned).toBe('headers');
    expect(dsn.message.includes(0)).toBe(false);
  });

  it('returns only the headers in a delay report even for RET=FULL', () => {
    const delayed: DsnRecipientReport = { recipient: { address: bob }, action: 'delayed' };
    expect(build({ envelope: envelope({ ret: 'FULL' }), recipients: [delayed] }).returned).toBe('headers');
  });

  it('leaves out the third part when there is no original message', () => {
    const { message, returned } = build({ message: undefined });
    expect(returned).toBe('none');
    expect(sections(message).parts).toHaveLength(2);
  });

  it('marks the DSN 8BITMIME when it returns 8-bit headers', () => {
    const dsn = build({ message: 'From: alice@example.com\r\nSubject: Grüße aus Köln\r\n\r\nx\r\n' });
    const { partType, parts, body } = sections(dsn.message);
    expect(dsn.envelope.params.body).toBe('8BITMIME');
    expect(dsn.envelope.params.smtputf8).toBeUndefined();
    expect(partType(2)).toBe('text/rfc822-headers');
    expect(field(parts[2]?.fields ?? [], 'content-transfer-encoding')?.trim()).toBe('8bit');
    expect(body(2)).toContain('Subject: Grüße aus Köln\r\n');
  });

  it('uses the RFC 6533 global types and the utf-8 address type for a UTF-8 recipient', () => {
    const jose = parseAddress('josé@example.net', { smtputf8: true });
    const dsn = build({
      envelope: envelope({ smtputf8: true, ret: 'FULL' }),
      recipients: [
        {
          recipient: { address: jose },
          action: 'failed',
          error: SmtpError.fromReply(550, ['5.1.1 no such user']),
        },
      ],
      message: 'From: alice@example.com\r\nTo: josé@example.net\r\n\r\nhi\r\n',
    });
    const { type, partType, body } = sections(dsn.message);
    expect(type.params['report-type']).toBe('global-delivery-status');
    expect(partType(1)).toBe('message/global-delivery-status');
    expect(partType(2)).toBe('message/global');
    expect(body(1)).toContain('Final-Recipient: utf-8; josé@example.net\r\n');
    // The sender is ASCII: 8BITMIME carries the UTF-8 parts, SMTPUTF8 is not needed.
    expect(dsn.envelope.params).toEqual({ body: '8BITMIME' });
  });

  it('asks for SMTPUTF8 when the sender address is UTF-8', () => {
    const sender = parseAddress('jürgen@example.com', { smtputf8: true });
    const dsn = build({ envelope: envelope({ smtputf8: true }, sender) });
    expect(dsn.envelope.params.smtputf8).toBe(true);
    expect(sections(dsn.message).header('to')).toBe('<jürgen@example.com>');
  });

  it('replaces non-ASCII in a diagnostic when the report is not global', () => {
    const { body } = sections(
      build({ recipients: [{ ...failed, diagnosticCode: '550 Benutzer unbekannt: Müller' }] }).message,
    );
    expect(body(1)).toContain('Diagnostic-Code: smtp; 550 Benutzer unbekannt: M?ller\r\n');
  });

  it('folds a long Diagnostic-Code at 78 octets', () => {
    const reply = `550 5.7.1 ${'Message rejected because of a local policy decision '.repeat(8)}`;
    const { body } = sections(build({ recipients: [{ ...failed, diagnosticCode: reply }] }).message);
    const start = body(1).indexOf('Diagnostic-Code:');
    const lines = body(1).slice(start).split('\r\n');
    const end = lines.findIndex((line, i) => i > 0 && !line.startsWith(' '));
    const fieldLines = lines.slice(0, end);
    expect(fieldLines.length).toBeGreaterThan(4);
    for (const line of fieldLines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
    expect(fieldLines.join('')).toBe(`Diagnostic-Code: smtp; ${reply.trim()}`);
  });

  it('chooses a boundary that does not occur in the returned message', () => {
    const first = build();
    const boundary = sections(first.message).type.params.boundary!;
    const tricky = `From: a@example.com\r\n\r\n--${boundary}\r\n`;
    const second = build({ envelope: envelope({ ret: 'FULL' }), message: tricky });
    const { type, parts } = sections(second.message);
    expect(type.params.boundary).not.toBe(boundary);
    expect(parts).toHaveLength(3);
  });
});

describe('buildDsn line endings', () => {
  const nasty = [
    'From: a@example.com\nSubject: bare LF\n\nbody\n',
    'From: a@example.com\rSubject: bare CR\r\rbody\r',
    'From: a@example.com\r\nSubject: mixed\n\r\nline\r\rmore\n\r',
    'Subject: no body',
    '\r\nbody without headers\n',
    `From: a@example.com\r\nX-Long: ${'y'.repeat(1200)}\r\n\r\nz`,
    `From: a@example.com\r\n\r\n${'long line '.repeat(150)}\n`,
  ];
  const diagnostics = [
    '550 one\ntwo',
    '550 one\rtwo',
    '550 a\r\nb\n\rc',
    `550 ${'x'.repeat(2000)}`,
    '550 tab\there',
  ];

  it('never emits a bare CR or a bare LF, and every line ends with CRLF', () => {
    let checked = 0;
    for (const message of nasty) {
      for (const diagnosticCode of diagnostics) {
        for (const ret of ['FULL', 'HDRS'] as const) {
          const dsn = build({
            envelope: envelope({ ret }),
            message,
            recipients: [
              { ...failed, diagnosticCode },
              { recipient: { address: bob }, action: 'delayed', diagnosticCode },
            ],
          });
          const text = dsn.message.toString('latin1');
          expect(text).not.toMatch(/\r(?!\n)/);
          expect(text).not.toMatch(/(?<!\r)\n/);
          expect(text.endsWith('\r\n')).toBe(true);
          for (const line of text.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
          checked++;
        }
      }
    }
    expect(checked).toBe(nasty.length * diagnostics.length * 2);
  });
});
