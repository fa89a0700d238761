// Large messages spool to disk and arrive intact (and sealed); messages over the limit are refused
// while streaming (552 5.3.4); subaddress tags are carried over with keepTag.

import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTo, send, startWorld, type TestWorld, until } from './helpers.ts';

describe('message sizes and subaddress tags', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld({
      queue: { maxMessageSize: 4 * 1024 * 1024, retry: ['1s'] },
      subaddressing: { separator: '+', keepTag: true },
    });
  });
  afterAll(async () => {
    await world?.[Symbol.asyncDispose]();
  });

  it('forwards a 3 MB message through the disk spool intact, with the seal on top', async () => {
    const body = Array.from(
      { length: 40_000 },
      (_, i) => `line ${i} ${'0123456789abcdefghij'.repeat(3)}\r\n`,
    ).join('');
    const raw = `From: ann@sender.test\r\nTo: alias@forward.test\r\nSubject: big\r\n\r\n${body}`;
    const transport = createTransport({
      host: '127.0.0.1',
      port: world.port,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    await transport.sendMail({ envelope: { from: 'ann@sender.test', to: ['alias@forward.test'] }, raw });
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 1, 20_000);
    const [delivered] = deliveredTo(world.peer, 'dest@inbox.test');
    const text = delivered?.content?.toString() ?? '';
    expect(text.startsWith('ARC-Seal: ')).toBe(true);
    const digest = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(body.length).toBeGreaterThan(2_500_000);
    expect(digest(text.slice(text.indexOf('\r\n\r\n') + 4))).toBe(digest(body));
    // The spool file is gone once the message is queued.
    expect(readdirSync(world.dir.join('data', 'spool'))).toEqual([]);
  });

  it('refuses a message over the size limit with 552 5.3.4 and keeps nothing of it', async () => {
    const transport = createTransport({
      host: '127.0.0.1',
      port: world.port,
      secure: false,
      tls: { rejectUnauthorized: false },
    });
    const before = (await world.forwarder.queue.list({ limit: 1000 })).length;
    await expect(
      transport.sendMail({
        from: 'ann@sender.test',
        to: 'alias@forward.test',
        subject: 'huge',
        text: 'x'.repeat(5 * 1024 * 1024),
      }),
    ).rejects.toMatchObject({ responseCode: 552, response: expect.stringContaining('5.3.4') });
    expect((await world.forwarder.queue.list({ limit: 1000 })).length).toBe(before);
    expect(readdirSync(world.dir.join('data', 'spool'))).toEqual([]);
  });

  it('keeps the tag on the destination when keepTag is on', async () => {
    await send(world.port, { from: 'ann@sender.test', to: ['alice+shop@forward.test'], dkim: true });
    await until(() => deliveredTo(world.peer, 'alice+shop@inbox.test').length === 1);
  });
});
