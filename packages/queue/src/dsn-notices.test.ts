import { parseDsn, SmtpError } from '@mailyard/smtp';
import { openTempDir, type TempDir } from '@mailyard/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { envelope, manualClock } from '../test/helpers.ts';
import { openSqliteDelayLedger } from './delay-ledger.ts';
import { createBounceHandler, startDelayNotices } from './dsn-notices.ts';
import { openQueue, type Queue } from './queue.ts';
import { openSqliteStore, type SqliteStore } from './sqlite-store.ts';
import { createWorker } from './worker.ts';

const HOUR = 3_600_000;
const silent = { info() {}, warn() {}, error() {} };
const message = 'From: a@example.org\r\nSubject: report\r\n\r\nbody\r\n';

describe('DSN notices', () => {
  let dir: TempDir;
  let store: SqliteStore;
  let queue: Queue;
  const clock = manualClock();
  beforeEach(async () => {
    dir = await openTempDir();
    store = await openSqliteStore({ path: dir.join('queue.db') });
    queue = await openQueue({
      store,
      clock,
      retry: { jitter: 0 },
      onBounce: createBounceHandler(() => queue, { reportingMta: 'mx.example.org', logger: silent }),
    });
  });
  afterEach(async () => {
    await queue.close();
    await store.close();
    await dir[Symbol.asyncDispose]();
  });

  /** The DSNs queued so far: messages from the null sender, parsed. */
  async function notices() {
    const list = await queue.list({ mailFrom: null });
    return Promise.all(
      list.map(async (m) => ({
        to: m.recipients.map((r) => r.rcpt),
        dsn: parseDsn(Buffer.concat(await queue.openMessage(m.queueId).toArray())),
      })),
    );
  }

  it('queues one "failed" DSN to the sender when a recipient bounces, from the null sender', async () => {
    await queue.enqueue({ envelope: envelope('a@example.org', ['b@example.net']), message });
    const worker = createWorker({
      queue,
      courier: {
        deliver: async () => [
          { rcpt: 'b@example.net', status: 'bounced', error: new SmtpError(550, '5.1.1', 'No such user') },
        ],
      },
    });
    await worker.runOnce();
    await worker.stop();
    await expect.poll(async () => (await notices()).length).toBe(1);
    const [notice] = await notices();
    expect(notice?.to).toEqual(['a@example.org']);
    expect(notice?.dsn?.recipients).toEqual([
      expect.objectContaining({ action: 'failed', status: '5.1.1', finalRecipient: 'b@example.net' }),
    ]);
  });

  it('queues one "delayed" DSN per message once it has waited, however often it scans', async () => {
    await queue.enqueue({ envelope: envelope('a@example.org', ['b@example.net']), message });
    const worker = createWorker({
      queue,
      courier: {
        deliver: async () => [
          { rcpt: 'b@example.net', status: 'deferred', error: new SmtpError(451, '4.4.1', 'Try later') },
        ],
      },
    });
    await worker.runOnce();
    await worker.stop();
    const delay = startDelayNotices({
      queue,
      ledger: openSqliteDelayLedger(dir.join('delay-notices.db')),
      delayNoticeMs: 4 * HOUR,
      lifetimeMs: 120 * HOUR,
      reportingMta: 'mx.example.org',
      logger: silent,
      now: () => new Date(clock.now()),
      intervalMs: 3_600_000,
    });
    try {
      expect(await delay.scan()).toBe(0);
      clock.advance(5 * HOUR);
      expect(await delay.scan()).toBe(1);
      expect(await delay.scan()).toBe(0);
    } finally {
      await delay.close();
    }
    const [notice] = await notices();
    expect(notice?.dsn?.recipients).toEqual([
      expect.objectContaining({ action: 'delayed', status: '4.4.1' }),
    ]);
  });
});
