// The server under test in bench/smtp: createSmtpServer with a backend that reads and discards
// each message, the same work as the bare smtp-server baseline's "drain" mode.
// Usage: node --conditions=source bench/smtp/discard-server.ts PORT

import { createSmtpServer } from '@mailyard/smtp';

const port = Number(process.argv[2] ?? 2525);
let count = 0;
const server = createSmtpServer(
  {
    hostname: 'bench.mailyard.test',
    listeners: [{ host: '127.0.0.1', port }],
    limits: { maxConnections: 10_000, maxConnectionsPerIp: 10_000 },
  },
  {
    connect: () => ({
      async mail() {},
      async rcpt() {},
      async data(message) {
        for await (const _chunk of message);
        count++;
      },
    }),
  },
);
await server.listen();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  process.stdout.write(`count=${count}\n`);
  void server.close({ deadline: 1000 }).then(() => process.exit(0));
});
