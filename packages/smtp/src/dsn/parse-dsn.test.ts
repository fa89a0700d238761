import { describe, expect, it } from 'vitest';
import { parseAddress } from '../address.ts';
import { SmtpError } from '../smtp-error.ts';
import { buildDsn } from './build-dsn.ts';
import { parseDsn } from './parse-dsn.ts';

const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

// Shaped after a Postfix bounce: quoted boundary with a slash, tab-folded Content-Type,
// comments after dates, X-Postfix fields, a Diagnostic-Code continued on an indented line,
// and returned headers with raw UTF-8 (a client that sent 8-bit headers without SMTPUTF8).
const POSTFIX = crlf(`Return-Path: <>
Received: by mail.example.com (Postfix)
	id 4F2B21C0124; Sun, 29 Nov 2026 10:00:05 +0000 (UTC)
Date: Sun, 29 Nov 2026 10:00:05 +0000 (UTC)
From: MAILER-DAEMON@mail.example.com (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: alice@example.com
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4F2A11C0123.1764410405/mail.example.com"
Content-Transfer-Encoding: 8bit
Message-Id: <20261129100005.4F2B21C0124@mail.example.com>

This is a MIME-encapsulated message.

--4F2A11C0123.1764410405/mail.example.com
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mail.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<bob@example.net>: host mx1.example.net[192.0.2.25] said: 550 5.1.1
    <bob@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4F2A11C0123.1764410405/mail.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com
X-Postfix-Queue-ID: 4F2A11C0123
X-Postfix-Sender: rfc822; alice@example.com
Arrival-Date: Sun, 29 Nov 2026 10:00:03 +0000 (UTC)

Final-Recipient: rfc822; bob@example.net
Original-Recipient: rfc822;bob@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx1.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected:
    User unknown in virtual mailbox table

--4F2A11C0123.1764410405/mail.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

Return-Path: <alice@example.com>
Received: from [192.0.2.10] (client.example.com [192.0.2.10])
	by mail.example.com (Postfix) with ESMTPSA id 4F2A11C0123
	for <bob@example.net>; Sun, 29 Nov 2026 10:00:03 +0000 (UTC)
From: Alice Müller <alice@example.com>
To: bob@example.net
Subject: Grüße aus Köln — Übersicht
Message-ID: <m1@example.com>
Date: Sun, 29 Nov 2026 10:00:02 +0000

--4F2A11C0123.1764410405/mail.example.com--
`);

// Shaped after an Exchange NDR: the human part is a multipart/alternative in quoted-printable,
// `dns;` without a space, a five-character status (5.1.10), an X-Display-Name extension, and
// the whole original returned as message/rfc822.
const EXCHANGE = crlf(`From: postmaster@contoso.com
To: <alice@example.com>
Date: Sun, 29 Nov 2026 10:00:05 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="d1b7a9c2-1e2f-4d6a-9a55-3c0c3c1f7e11"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <a1b2c3d4@EXCH01.contoso.com>
In-Reply-To: <m2@example.com>
Subject: Undeliverable: Quarterly figures
Auto-Submitted: auto-replied

--d1b7a9c2-1e2f-4d6a-9a55-3c0c3c1f7e11
Content-Type: multipart/alternative; differences=Content-Type;
	boundary="ae5c0b8e-77aa-4c1f-9b0d-2f4a6c8e0d12"

--ae5c0b8e-77aa-4c1f-9b0d-2f4a6c8e0d12
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

Delivery has failed to these recipients or groups:

carol@contoso.com<mailto:carol@contoso.com>
The email address you entered couldn't be found. Please check the recipien=
t's email address and try to resend the message.

--ae5c0b8e-77aa-4c1f-9b0d-2f4a6c8e0d12
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Delivery has failed to these recipients or groups:</p></body=
></html>

--ae5c0b8e-77aa-4c1f-9b0d-2f4a6c8e0d12--

--d1b7a9c2-1e2f-4d6a-9a55-3c0c3c1f7e11
Content-Type: message/delivery-status

Reporting-MTA: dns;EXCH01.contoso.com
Received-From-MTA: dns;EXCH02.contoso.com
Arrival-Date: Sun, 29 Nov 2026 10:00:03 +0000

Original-Recipient: rfc822;carol@contoso.com
Final-Recipient: rfc822;carol@contoso.com
Action: failed
Status: 5.1.10
Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup
X-Display-Name: Carol

--d1b7a9c2-1e2f-4d6a-9a55-3c0c3c1f7e11
Content-Type: message/rfc822

Received: from client.example.com (192.0.2.10) by EXCH02.contoso.com
From: Alice <alice@example.com>
To: <carol@contoso.com>
Subject: Quarterly figures
Message-ID: <m2@example.com>
Content-Type: text/plain

See the attached figures.

--d1b7a9c2-1e2f-4d6a-9a55-3c0c3c1f7e11--
`);

// Shaped after a delay warning from a large webmail provider: lower-case parameter order
// swapped, unquoted boundary, two recipients (one delayed, one already failed), zones in -0800.
const DELAY = crlf(`From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: alice@example.com
Subject: Delivery Status Notification (Delay)
MIME-Version: 1.0
content-type: Multipart/Report; boundary=000000000000a1b2c3; Report-Type=delivery-status

--000000000000a1b2c3
Content-Type: text/plain; charset=UTF-8

Your message has not been delivered yet.

--000000000000a1b2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Arrival-Date: Sun, 29 Nov 2026 02:03:04 -0800 (PST)
Original-Envelope-Id: ID+2B42

Final-Recipient: rfc822; dave@example.org
Action: delayed (will retry)
Status: 4.4.1 (persistent transient failure)
Diagnostic-Code: smtp; The recipient server did not accept our requests to connect.
 [mx.example.org. 192.0.2.7: timed out]
Last-Attempt-Date: Sun, 29 Nov 2026 04:05:06 -0800 (PST)
Will-Retry-Until: Wed, 02 Dec 2026 02:03:05 -0800 (PST)

final-recipient: RFC822; <erin@example.org>
action: Failed
status: 5.2.2
diagnostic-code: smtp; 552 5.2.2 Mailbox full

--000000000000a1b2c3
Content-Type: text/rfc822-headers

From: alice@example.com
Subject: Agenda

--000000000000a1b2c3--
`);

describe('parseDsn on real-world shapes', () => {
  it('reads a Postfix bounce', () => {
    const dsn = parseDsn(POSTFIX);
    expect(dsn).not.toBeNull();
    expect(dsn?.reportingMta).toBe('mail.example.com');
    expect(dsn?.arrivalDate?.toISOString()).toBe('2026-11-29T10:00:03.000Z');
    expect(dsn?.fields['x-postfix-queue-id']).toBe('4F2A11C0123');
    expect(dsn?.recipients).toEqual([
      expect.objectContaining({
        finalRecipient: 'bob@example.net',
        originalRecipient: 'bob@example.net',
        action: 'failed',
        status: '5.1.1',
        remoteMta: 'mx1.example.net',
        diagnosticCode:
          '550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table',
      }),
    ]);
  });

  it('returns the 8-bit UTF-8 headers of the bounced message intact', () => {
    const dsn = parseDsn(Buffer.from(POSTFIX, 'utf8'));
    expect(dsn?.originalHeaders).toContain('From: Alice Müller <alice@example.com>\r\n');
    expect(dsn?.originalHeaders).toContain('Subject: Grüße aus Köln — Übersicht\r\n');
    expect(dsn?.originalHeaders).toContain('Message-ID: <m1@example.com>\r\n');
  });

  it('reads an Exchange NDR with a nested alternative part and a returned message', () => {
    const dsn = parseDsn(EXCHANGE);
    expect(dsn?.reportingMta).toBe('EXCH01.contoso.com');
    expect(dsn?.receivedFromMta).toBe('EXCH02.contoso.com');
    const [carol] = dsn?.recipients ?? [];
    expect(carol?.finalRecipient).toBe('carol@contoso.com');
    expect(carol?.status).toBe('5.1.10');
    expect(carol?.diagnosticCode).toBe(
      '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
    );
    expect(carol?.fields['x-display-name']).toBe('Carol');
    expect(dsn?.originalHeaders).toContain('Subject: Quarterly figures\r\n');
    expect(dsn?.originalHeaders).not.toContain('See the attached figures');
  });

  it('reads a delay warning with comments, odd case, several recipients and zoned dates', () => {
    const dsn = parseDsn(DELAY);
    expect(dsn?.envid).toBe('ID+42'); // xtext: +2B is '+'
    const [dave, erin] = dsn?.recipients ?? [];
    expect(dave?.action).toBe('delayed');
    expect(dave?.status).toBe('4.4.1');
    expect(dave?.diagnosticCode).toBe(
      'The recipient server did not accept our requests to connect. [mx.example.org. 192.0.2.7: timed out]',
    );
    expect(dave?.lastAttemptDate?.toISOString()).toBe('2026-11-29T12:05:06.000Z');
    expect(dave?.willRetryUntil?.toISOString()).toBe('2026-12-02T10:03:05.000Z');
    expect([erin?.finalRecipient, erin?.action, erin?.status]).toEqual([
      'erin@example.org',
      'failed',
      '5.2.2',
    ]);
    expect(dsn?.originalHeaders).toBe('From: alice@example.com\r\nSubject: Agenda\r\n');
  });

  it('reads a report stored with bare LF line endings', () => {
    const dsn = parseDsn(POSTFIX.replace(/\r\n/g, '\n'));
    expect(dsn?.recipients[0]?.status).toBe('5.1.1');
    expect(dsn?.originalHeaders).toContain('Subject: Grüße aus Köln — Übersicht');
  });

  it('reads a base64-encoded delivery-status part', () => {
    const fields =
      'Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; x@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n';
    const raw = crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: text/plain

failed
--b
Content-Type: message/delivery-status
Content-Transfer-Encoding: base64

${Buffer.from(fields)
  .toString('base64')
  .replace(/(.{76})/g, '$1\n')}
--b--
`);
    expect(parseDsn(raw)?.recipients[0]).toMatchObject({ finalRecipient: 'x@example.net', status: '5.0.0' });
  });

  it('finds a report nested inside a multipart/mixed (a list footer appended)', () => {
    const inner = POSTFIX.slice(POSTFIX.indexOf('Content-Type: multipart/report'));
    const raw =
      crlf(`From: list@example.com
Content-Type: multipart/mixed; boundary="outer"

--outer
`) +
      inner.replace(
        'Content-Transfer-Encoding: 8bit\r\nMessage-Id: <20261129100005.4F2B21C0124@mail.example.com>\r\n',
        '',
      ) +
      crlf(`
--outer
Content-Type: text/plain

List footer
--outer--
`);
    expect(parseDsn(raw)?.recipients[0]?.finalRecipient).toBe('bob@example.net');
  });
});

describe('parseDsn field values', () => {
  const report = (recipientFields: string) =>
    crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

${recipientFields}
--b--
`);

  it('keeps a diagnostic without a type whole, semicolons included', () => {
    const dsn = parseDsn(
      report(
        'Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: 550 user unknown; account disabled',
      ),
    );
    expect(dsn?.recipients[0]?.diagnosticCode).toBe('550 user unknown; account disabled');
  });

  it('decodes RFC 6533 \\x{HEX} escapes in a utf-8 address', () => {
    const dsn = parseDsn(
      report('Final-Recipient: utf-8; jos\\x{E9}@example.net\nAction: failed\nStatus: 5.1.1'),
    );
    expect(dsn?.recipients[0]?.finalRecipient).toBe('josé@example.net');
  });
});

describe('parseDsn on messages that are not DSNs', () => {
  it('returns null for a plain message', () => {
    expect(parseDsn('From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n')).toBeNull();
  });

  it('returns null for a read receipt (multipart/report of another type)', () => {
    const mdn = crlf(`Content-Type: multipart/report; report-type=disposition-notification; boundary=m

--m
Content-Type: text/plain

Your message was displayed.
--m
Content-Type: message/disposition-notification

Reporting-UA: mua.example.com
Final-Recipient: rfc822; bob@example.net
Disposition: manual-action/MDN-sent-manually; displayed
--m--
`);
    expect(parseDsn(mdn)).toBeNull();
  });

  it('returns null for a multipart/report without a boundary', () => {
    expect(parseDsn('Content-Type: multipart/report; report-type=delivery-status\r\n\r\nx\r\n')).toBeNull();
  });

  it('returns null for a delivery-status part with no recipient', () => {
    const raw = crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
--b--
`);
    expect(parseDsn(raw)).toBeNull();
  });

  it('does not look inside an attached message/rfc822 (a forwarded bounce is not a bounce)', () => {
    const raw = `${crlf(`From: a@example.com
Content-Type: multipart/mixed; boundary=f

--f
Content-Type: message/rfc822

`)}${POSTFIX}\r\n--f--\r\n`;
    expect(parseDsn(raw)).toBeNull();
  });
});

describe('buildDsn → parseDsn round trip', () => {
  const alice = parseAddress('alice@example.com');
  const base = {
    reportingMta: 'mx.example.org',
    now: () => new Date(Date.UTC(2026, 10, 29, 10, 5, 0)),
    createMessageId: () => 'rt@mx.example.org',
  };

  it('keeps every field of a failure report with several recipients', () => {
    const arrival = new Date(Date.UTC(2026, 10, 29, 9, 0, 0));
    const attempt = new Date(Date.UTC(2026, 10, 29, 10, 0, 0));
    const longReply = `5.7.1 ${'Rejected by policy; see https://example.net/policy for details. '.repeat(6)}`;
    const built = buildDsn({
      ...base,
      envelope: { mailFrom: alice, rcptTo: [], params: { envid: 'env id+1', ret: 'FULL' } },
      arrivalDate: arrival,
      message: 'From: alice@example.com\r\nSubject: Hi\r\n\r\nBody\r\n',
      recipients: [
        {
          recipient: { address: parseAddress('bob@example.net'), orcpt: 'rfc822;Bob@example.net' },
          action: 'failed',
          error: SmtpError.fromReply(550, [longReply]),
          remoteMta: 'mx1.example.net',
          lastAttemptDate: attempt,
        },
        {
          recipient: { address: parseAddress('carol@example.net') },
          action: 'delayed',
          error: new SmtpError(451, '4.4.1', 'Connection timed out'),
          willRetryUntil: new Date(Date.UTC(2026, 11, 4, 9, 0, 0)),
        },
      ],
    });
    const parsed = parseDsn(built.message);
    expect(parsed).toMatchObject({ reportingMta: 'mx.example.org', envid: 'env id+1', arrivalDate: arrival });
    expect(parsed?.recipients).toMatchObject([
      {
        finalRecipient: 'bob@example.net',
        originalRecipient: 'Bob@example.net',
        action: 'failed',
        status: '5.7.1',
        remoteMta: 'mx1.example.net',
        diagnosticCode: `550 ${longReply.trim()}`,
        lastAttemptDate: attempt,
      },
      {
        finalRecipient: 'carol@example.net',
        action: 'delayed',
        status: '4.4.1',
        diagnosticCode: '451 4.4.1 Connection timed out',
        willRetryUntil: new Date(Date.UTC(2026, 11, 4, 9, 0, 0)),
      },
    ]);
    expect(parsed?.originalHeaders).toBe('From: alice@example.com\r\nSubject: Hi\r\n');
  });

  it('keeps a success report', () => {
    const built = buildDsn({
      ...base,
      envelope: { mailFrom: alice, rcptTo: [], params: {} },
      recipients: [
        {
          recipient: { address: parseAddress('bob@example.net') },
          action: 'delivered',
          diagnosticCode: '250 2.0.0 Ok',
        },
      ],
    });
    expect(parseDsn(built.message)?.recipients).toMatchObject([
      {
        finalRecipient: 'bob@example.net',
        action: 'delivered',
        status: '2.0.0',
        diagnosticCode: '250 2.0.0 Ok',
      },
    ]);
    expect(parseDsn(built.message)?.originalHeaders).toBeUndefined();
  });

  it('keeps UTF-8 addresses and headers of a global report', () => {
    const built = buildDsn({
      ...base,
      envelope: { mailFrom: alice, rcptTo: [], params: { smtputf8: true } },
      message: 'From: alice@example.com\r\nSubject: Grüße\r\n\r\nx\r\n',
      recipients: [
        {
          recipient: { address: parseAddress('用户@example.net', { smtputf8: true }) },
          action: 'failed',
          diagnosticCode: '550 5.1.1 用户不存在',
        },
      ],
    });
    const parsed = parseDsn(built.message);
    expect(parsed?.recipients[0]).toMatchObject({
      finalRecipient: '用户@example.net',
      status: '5.1.1',
      diagnosticCode: '550 5.1.1 用户不存在',
    });
    expect(parsed?.originalHeaders).toBe('From: alice@example.com\r\nSubject: Grüße\r\n');
  });
});
