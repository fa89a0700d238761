// Queue mail durably in SQLite, deliver it with a courier, and turn a bounce into a DSN.
// Run: pnpm exec node --conditions=source examples/quick-start.ts (from packages/queue)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorker, openQueue, openSqliteStore } from '@mailyard/queue';
import { buildDsn, type Courier, formatAddress, parseAddress, SmtpError } from '@mailyard/smtp';

export async function quickStart(dataDir: string) {
  // In a thread of its own, SQLite's fsyncs do not block this event loop. A thread that dies is
  // replaced (its waiting calls fail with 451 4.3.0), up to 5 times a minute.
  await using store = await openSqliteStore({
    path: join(dataDir, 'queue.db'),
    thread: true,
    restart: { maxRestarts: 5, windowMs: 60_000 },
  });
  await using queue = await openQueue({
    store,
    // A bounce becomes an RFC 3464 DSN, queued from the null sender <> back to the sender.
    onBounce: async (notice) => {
      const dsn = buildDsn({
        reportingMta: 'mx.example.org',
        envelope: notice.envelope,
        message: Buffer.concat(await notice.openMessage().toArray()),
        arrivalDate: notice.arrivedAt,
        queueId: notice.queueId,
        recipients: notice.recipients.map((r) => ({
          recipient: r.recipient,
          action: 'failed',
          error: r.error,
        })),
      });
      await queue.enqueue({ envelope: dsn.envelope, message: dsn.message });
    },
  });
  queue.events.on('delivered', (e) => console.log(`${e.queueId} delivered to ${e.rcpt}: ${e.reply}`));
  queue.events.on('bounced', (e) => console.log(`${e.queueId} bounced for ${e.rcpt}: ${e.error.reply}`));

  // Resolves only once the message is on stable storage: now the SMTP server may answer 250.
  const { queueId } = await queue.enqueue({
    envelope: {
      mailFrom: parseAddress('alice@example.com'),
      rcptTo: [{ address: parseAddress('bob@example.net') }, { address: parseAddress('nobody@example.net') }],
      params: {},
    },
    message: 'From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nHello Bob!\r\n',
  });

  // The courier moves mail on; the apps use the SMTP courier of @mailyard/smtp.
  const courier: Courier = {
    async deliver(request) {
      return request.envelope.rcptTo.map(({ address }) => {
        const rcpt = formatAddress(address);
        return address.localPart === 'nobody'
          ? { rcpt, status: 'bounced', error: new SmtpError(550, '5.1.1', 'No such user') }
          : { rcpt, status: 'delivered', reply: '250 2.0.0 Ok: queued' };
      });
    },
  };
  // A lease holds 10 minutes and is renewed every 3 while its delivery runs, so a slow delivery is
  // not taken over by another worker; a worker that dies frees its recipients after 10 minutes.
  await using worker = createWorker({
    queue,
    courier,
    concurrency: 20,
    perNextHop: 4,
    leaseMs: 10 * 60_000,
    renewMs: 3 * 60_000,
  });
  await worker.runOnce(); // an app calls worker.start() instead, and disposes it on shutdown

  const shown = await queue.show(queueId);
  const bounces = await queue.list({ mailFrom: null });
  return {
    states: shown?.recipients.map((r) => `${r.rcpt} ${r.state}`),
    bounces: bounces.map((m) => m.recipients.map((r) => `${r.rcpt} ${r.state}`)),
  };
}

if (import.meta.main) console.log(await quickStart(await mkdtemp(join(tmpdir(), 'mailyard-queue-'))));
