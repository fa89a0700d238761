// A running SMTP server on @mailyard/smtp in a few lines: accepts mail for any recipient,
// refuses one address, and prints each message's envelope and size.
// Run it:   pnpm exec node --conditions=source packages/smtp/examples/server.ts [port]
// Try it:   swaks --server 127.0.0.1:2525 --to bob@example.com
import { createSmtpServer, formatAddress, SmtpError, type SmtpServer } from '@mailyard/smtp';

export async function startExampleServer(port = 2525): Promise<SmtpServer> {
  const server = createSmtpServer(
    {
      hostname: 'mx.example.test',
      listeners: [{ host: '127.0.0.1', port }],
      maxMessageSize: 10 * 1024 * 1024,
    },
    {
      connect: (info) => ({
        async mail() {},
        async rcpt(to) {
          if (to.address.localPart === 'nobody') throw new SmtpError(550, '5.1.1', 'No such user here');
        },
        async data(message, envelope) {
          let bytes = 0;
          for await (const chunk of message) bytes += (chunk as Buffer).length;
          const to = envelope.rcptTo.map((r) => formatAddress(r.address)).join(', ');
          console.log(
            `${info.remoteAddress}: <${formatAddress(envelope.mailFrom)}> -> ${to}, ${bytes} bytes`,
          );
          return `queued as ${info.sessionId}`;
        },
      }),
    },
  );
  await server.listen();
  return server;
}

if (import.meta.main) {
  const server = await startExampleServer(Number(process.argv[2] ?? 2525));
  console.log(`listening on ${server.addresses.map((a) => `${a.host}:${a.port}`).join(', ')}`);
  process.once('SIGINT', () => void server.close({ deadline: 5000 }));
  process.once('SIGTERM', () => void server.close({ deadline: 5000 }));
}
