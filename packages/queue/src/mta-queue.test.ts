import { existsSync } from 'node:fs';
import { parseAddress } from '@mailyard/smtp';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { envelope } from '../test/helpers.ts';
import { openMtaQueue } from './mta-queue.ts';

const settings = {
  url: null,
  schema: null,
  retry: null,
  lifetimeMs: null,
  delayNoticeMs: 4 * 3_600_000,
  maxMessageSize: 1024,
};
const silent = { info() {}, warn() {}, error() {} };

describe('openMtaQueue', () => {
  it('opens the store and ledger in the data dir, takes SIZE plus trace room, and closes them all', async () => {
    await using dir = await openTempDir();
    const mta = await openMtaQueue({
      settings,
      dataDir: dir.join('data'),
      reportingMta: 'mx.test',
      logger: silent,
    });
    expect(existsSync(dir.join('data/queue.db'))).toBe(true);
    expect(existsSync(dir.join('data/delay-notices.db'))).toBe(true);
    // A message a little over the announced SIZE (our trace fields on top) still fits.
    await mta.queue.enqueue({
      envelope: envelope('a@sender.test', ['b@dest.test']),
      message: 'x'.repeat(4096),
    });
    await mta.close();
    await expect(
      mta.queue.enqueue({ envelope: envelope('a@sender.test', ['b@dest.test']), message: 'x' }),
    ).rejects.toThrow();
  });

  it("builds a bounced message's DSN from the notice the app rewrites", async () => {
    await using dir = await openTempDir();
    await using mta = await openMtaQueue({
      settings,
      dataDir: dir.path,
      reportingMta: 'mx.test',
      logger: silent,
      notice: (notice) => ({
        ...notice,
        envelope: { ...notice.envelope, mailFrom: parseAddress('original@sender.test') },
      }),
    });
    const { queueId } = await mta.queue.enqueue({
      envelope: envelope('a@sender.test', ['b@dest.test']),
      message: 'Subject: x\r\n\r\nbody\r\n',
    });
    await mta.queue.bounce(queueId);
    await mta.queue.processNotices();
    const dsns = await mta.queue.list({ mailFrom: null });
    expect(dsns.flatMap((m) => m.recipients.map((r) => r.rcpt))).toEqual(['original@sender.test']);
  });
});
