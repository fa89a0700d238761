// The server under test in bench/smtp: createSmtpServer with a backend that reads and discards
// each message, the same work as the bare smtp-server baseline's "drain" mode (count the bytes
// of each chunk, answer at the end of the stream).
// JavaScript on the built package (dist), as a user of @mailyard/smtp from npm runs it: run from
// source, Node's TypeScript support (amaro) would load too and add ~4 MB of live heap, which moves
// V8's collection schedule and is not ours to measure. The benchmarks build the package first.
// Usage: node bench/smtp/discard-server.js PORT   (after pnpm --filter @mailyard/smtp build)
// SIGTERM prints "count=N bytes=B" (messages and bytes read, Received: header included).

import { createSmtpServer } from '@mailyard/smtp';

const port = Number(process.argv[2] ?? 2525);
let count = 0;
let bytes = 0;
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
      // The same listeners as the baseline's drain mode (`on`, not `once`: removing a listener
      // costs more than the whole discard and is not the server's work).
      data: (message) =>
        new Promise((resolve, reject) => {
          message.on('data', (chunk) => {
            bytes += chunk.length;
          });
          message.on('end', () => {
            count++;
            resolve();
          });
          message.on('error', reject);
        }),
    }),
  },
);
await server.listen();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  process.stdout.write(`count=${count} bytes=${bytes}\n`);
  void server.close({ deadline: 1000 }).then(() => process.exit(0));
});
