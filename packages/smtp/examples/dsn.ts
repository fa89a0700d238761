// Build a bounce for a rejected recipient, then read it back.
// Run: pnpm exec node --conditions=source examples/dsn.ts (from packages/smtp)
import { buildDsn, mayNotifySender, parseAddress, parseDsn, SmtpError, wantsDsn } from '@mailyard/smtp';

const envelope = {
  mailFrom: parseAddress('alice@example.com'),
  rcptTo: [{ address: parseAddress('bob@example.net'), orcpt: 'rfc822;bob@example.net' }],
  params: { ret: 'HDRS' as const, envid: 'QQ314159' },
};
const original = 'From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Hello\r\n\r\nHi Bob!\r\n';
const rejected = envelope.rcptTo.filter((rcpt) => wantsDsn(rcpt, 'failed'));

if (mayNotifySender(envelope) && rejected.length > 0) {
  const dsn = buildDsn({
    reportingMta: 'mx.example.org',
    envelope,
    message: original,
    recipients: rejected.map((recipient) => ({
      recipient,
      action: 'failed' as const,
      error: SmtpError.fromReply(550, ['5.1.1 <bob@example.net>: user unknown']),
      remoteMta: 'mx1.example.net',
    })),
  });
  // Send dsn.message with dsn.envelope: its mailFrom is null, the null sender <>.
  console.log(
    `MAIL FROM:<${dsn.envelope.mailFrom ?? ''}> (${dsn.message.length} octets, returns ${dsn.returned})`,
  );

  const report = parseDsn(dsn.message);
  for (const rcpt of report?.recipients ?? []) {
    console.log(`${rcpt.finalRecipient}: ${rcpt.action} ${rcpt.status} (${rcpt.diagnosticCode})`);
  }
}
