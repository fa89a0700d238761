// Deliver one message to an SMTP server at host:port and print one outcome per recipient.
// Run: pnpm exec node --conditions=source examples/send.ts 127.0.0.1 2525 bob@example.net
import { openSmtpClient, parseAddress } from '@mailyard/smtp';

const [host = '127.0.0.1', port = '25', to = 'bob@example.net'] = process.argv.slice(2);

const client = await openSmtpClient({
  host,
  port: Number(port),
  localName: 'client.example.org',
  tls: 'opportunistic', // STARTTLS when offered; 'required' | 'implicit' | 'none'
  timeouts: { greeting: 30_000 }, // RFC 5321 §4.5.3.2 defaults otherwise
});
try {
  const outcomes = await client.send({
    envelope: {
      mailFrom: parseAddress('alice@example.org'),
      rcptTo: [{ address: parseAddress(to) }],
      params: {},
    },
    message: `From: alice@example.org\r\nTo: ${to}\r\nSubject: Hello\r\n\r\nHi!\r\n`,
  });
  for (const outcome of outcomes) {
    const detail = outcome.status === 'delivered' ? outcome.reply : outcome.error.reply;
    console.log(`${outcome.rcpt}: ${outcome.status} (${detail})`);
  }
} finally {
  await client.close();
}
