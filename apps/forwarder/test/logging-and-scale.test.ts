// Logs are pino JSON lines with the house field names (STYLE.md), one per decision and state
// change, never with message bodies; and several forwarders share one PostgreSQL queue, any of
// them accepting and any delivering, each message exactly once.

import { PassThrough } from 'node:stream';
import { createLogger } from '@mailyard/service';
import { describeWithPostgres } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTo, send, startWorld, type TestWorld, until } from './helpers.ts';

describe('forwarder logs', () => {
  let world: TestWorld;
  const lines: Record<string, unknown>[] = [];
  let text = '';
  beforeAll(async () => {
    const stream = new PassThrough();
    stream.on('data', (chunk) => {
      text += chunk;
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    });
    world = await startWorld({}, {}, createLogger({ app: 'forwarder', level: 'info', destination: stream }));
  });
  afterAll(async () => {
    await world?.[Symbol.asyncDispose]();
  });

  it('logs the acceptance, the refusal and the delivery with fixed field names, and no body', async () => {
    await send(world.port, {
      from: 'ann@sender.test',
      to: ['alias@forward.test'],
      dkim: true,
      subject: 'secret subject',
    });
    await send(world.port, { from: 'ann@sender.test', to: ['nobody@forward.test'] }).catch(() => {});
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 1);
    await until(() => lines.some((l) => l.msg === 'delivered'));
    expect(lines.find((l) => l.msg === 'forwarded')).toMatchObject({
      app: 'forwarder',
      level: 30,
      queueId: expect.any(String),
      sessionId: expect.any(String),
      mailFrom: 'ann@sender.test',
      rcpts: ['dest@inbox.test'],
      dmarc: 'pass',
    });
    expect(lines.find((l) => l.msg === 'refused')).toMatchObject({
      smtpCode: 550,
      enhanced: '5.1.1',
      rcpt: 'nobody@forward.test',
    });
    expect(text).not.toContain('Hello through the forwarder');
  });
});

describeWithPostgres('two forwarders on one PostgreSQL queue', (db) => {
  it('accept on either and deliver every message exactly once', async () => {
    const shared = { queue: { url: db().url, schema: db().schema, retry: ['1s'] } };
    await using first = await startWorld(shared);
    await using second = await startWorld({
      ...shared,
      delivery: { port: first.peer.port, tls: 'none', mtaSts: false, reuseIdle: 0, poll: '100ms' },
    });
    const sends = [];
    for (let i = 0; i < 10; i++)
      sends.push(
        send((i % 2 === 0 ? first : second).port, {
          from: 'ann@sender.test',
          to: ['alias@forward.test'],
          dkim: true,
          subject: `m${i}`,
        }),
      );
    await Promise.all(sends);
    await until(
      () =>
        deliveredTo(first.peer, 'dest@inbox.test').length +
          deliveredTo(second.peer, 'dest@inbox.test').length >=
        10,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const subjects = [
      ...deliveredTo(first.peer, 'dest@inbox.test'),
      ...deliveredTo(second.peer, 'dest@inbox.test'),
    ].map((t) => /^Subject: (m\d)$/m.exec(t.content?.toString() ?? '')?.[1]);
    expect(subjects.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });
});
