// Delivery status notifications to the sender (RFC 3464 via @mailyard/smtp's buildDsn): `failed`
// when the queue bounces recipients (an explicit 5xx or expiry of the queue lifetime), and one
// `delayed` notice per message once it has waited `delayNoticeMs` (RFC 3461 §4.1 NOTIFY=DELAY;
// default 4 h, as Postfix's delay_warning_time suggests). Never to the null sender (RFC 5321
// §4.5.5): the queue does not call onBounce for it, and the delay scan skips it. A DSN is queued
// with the null sender like any other message (and DKIM-signed or ARC-sealed at delivery like any
// other). Every app that relays sends the same notices, so they live with the queue they read.

import type { Readable } from 'node:stream';
import { buildDsn, type Envelope, formatAddress, mayNotifySender, wantsDsn } from '@mailyard/smtp';
import type { DelayLedger } from './delay-ledger.ts';
import type { QueueLogger } from './events.ts';
import type { BounceNotice, Queue } from './queue.ts';

export interface DsnSenderOptions {
  readonly reportingMta: string;
  readonly logger: QueueLogger;
  readonly now?: () => Date;
}

// buildDsn returns a message whole only up to 50,000 octets and its header block up to 65,536;
// beyond that it says nothing. Reading one octet more than that is enough to decide, so a
// bounced 50 MB message costs 64 KiB here, not 50 MB.
const ORIGINAL_NEEDED = 65_536 + 1;

/** The first `limit` octets of the stored message (all of it when shorter). */
async function readOriginal(stream: Readable, limit = ORIGINAL_NEEDED): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length >= limit) break; // leaving the loop destroys the stream
  }
  return Buffer.concat(chunks, Math.min(length, limit));
}

async function enqueueDsn(queue: Queue, dsn: { envelope: Envelope; message: Buffer }): Promise<string> {
  const { queueId } = await queue.enqueue({
    envelope: dsn.envelope,
    message: dsn.message,
    meta: { dsn: true },
  });
  return queueId;
}

/** The queue's `onBounce`: one `failed` DSN per notice. `queue()` is late-bound (the queue takes this handler). */
export function createBounceHandler(
  queue: () => Queue,
  options: DsnSenderOptions,
): (notice: BounceNotice) => Promise<void> {
  return async (notice) => {
    const dsn = buildDsn({
      reportingMta: options.reportingMta,
      envelope: notice.envelope,
      message: await readOriginal(notice.openMessage()),
      arrivalDate: notice.arrivedAt,
      queueId: notice.queueId,
      recipients: notice.recipients.map((r) => ({
        recipient: r.recipient,
        action: 'failed',
        error: r.error,
        ...(r.nextHop.includes(':') ? {} : { remoteMta: r.nextHop }),
      })),
      ...(options.now ? { now: options.now } : {}),
    });
    const dsnId = await enqueueDsn(queue(), dsn);
    options.logger.info(
      {
        queueId: notice.queueId,
        dsnQueueId: dsnId,
        mailFrom: formatAddress(notice.envelope.mailFrom),
        rcpts: notice.recipients.map((r) => r.rcpt),
      },
      'bounce notice queued',
    );
  };
}

export interface DelayNoticesOptions extends DsnSenderOptions {
  readonly queue: Queue;
  /** The ledger of messages already notified (closed with the notices). */
  readonly ledger: DelayLedger;
  readonly delayNoticeMs: number;
  readonly lifetimeMs: number;
  /** How often to scan; default min(delay / 4, 60 s), at least 1 s. */
  readonly intervalMs?: number;
}

export interface DelayNotices extends AsyncDisposable {
  /** One scan: queues the delayed DSNs now due; returns how many. */
  scan(): Promise<number>;
  close(): Promise<void>;
}

export function startDelayNotices(options: DelayNoticesOptions): DelayNotices {
  const { queue, ledger } = options;
  const now = options.now ?? (() => new Date());
  let running: Promise<number> | undefined;

  const scanOnce = async (): Promise<number> => {
    let sent = 0;
    await ledger.prune(now().getTime() - options.lifetimeMs - 86_400_000);
    const due = await queue.list({ state: 'deferred', olderThanMs: options.delayNoticeMs, limit: 500 });
    for (const message of due) {
      if (message.mailFrom === null) continue;
      if (!(await ledger.claim(message.queueId, now().getTime()))) continue;
      try {
        const detail = await queue.show(message.queueId);
        if (!detail || !mayNotifySender(detail.envelope) || !detail.bodyAvailable) continue;
        const deferred = new Set(detail.recipients.filter((r) => r.state === 'deferred').map((r) => r.rcpt));
        const recipients = detail.envelope.rcptTo
          .filter((r) => deferred.has(formatAddress(r.address)) && wantsDsn(r, 'delayed'))
          .map((recipient) => {
            const status = detail.recipients.find((s) => s.rcpt === formatAddress(recipient.address));
            const code = /^(4\d\d) (4\.\d{1,3}\.\d{1,3})/.exec(status?.lastReply ?? '');
            return {
              recipient,
              action: 'delayed' as const,
              status: code?.[2] ?? '4.0.0',
              ...(status?.lastReply ? { diagnosticCode: status.lastReply } : {}),
              willRetryUntil: new Date(detail.createdAt.getTime() + options.lifetimeMs),
            };
          });
        if (recipients.length === 0) continue;
        const original = await readOriginal(queue.openMessage(message.queueId));
        const dsn = buildDsn({
          reportingMta: options.reportingMta,
          envelope: detail.envelope,
          message: original,
          arrivalDate: detail.createdAt,
          queueId: message.queueId,
          recipients,
          defaultRet: 'HDRS',
          ...(options.now ? { now: options.now } : {}),
        });
        const dsnId = await enqueueDsn(queue, dsn);
        sent++;
        options.logger.info(
          {
            queueId: message.queueId,
            dsnQueueId: dsnId,
            mailFrom: message.mailFrom,
            delayMs: options.delayNoticeMs,
          },
          'delay notice queued',
        );
      } catch (error) {
        await ledger.unclaim(message.queueId).catch(() => undefined);
        options.logger.warn({ queueId: message.queueId, err: error }, 'delay notice failed, will retry');
      }
    }
    return sent;
  };

  const scan = (): Promise<number> => {
    running ??= scanOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const intervalMs = options.intervalMs ?? Math.max(1000, Math.min(options.delayNoticeMs / 4, 60_000));
  const timer = setInterval(() => {
    scan().catch((error: unknown) => options.logger.warn({ err: error }, 'delay notice scan failed'));
  }, intervalMs);
  timer.unref();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    await running?.catch(() => 0);
    await ledger.close();
  };
  return { scan, close, [Symbol.asyncDispose]: close };
}
