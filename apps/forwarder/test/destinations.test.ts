// Destination verification, end to end: mail for a destination that has not confirmed is held
// (the sender still gets 250), the destination receives one confirmation mail, the link's page
// asks before confirming (a GET changes nothing), and confirming releases the held mail.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTo, send, startWorld, type TestWorld, until } from './helpers.ts';

describe('destination verification', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld({ destinations: { verify: true } });
  });
  afterAll(async () => {
    await world?.[Symbol.asyncDispose]();
  });

  it('holds mail for an unconfirmed destination and releases it once the link is confirmed', async () => {
    const first = await send(world.port, {
      from: 'ann@sender.test',
      to: ['alias@forward.test'],
      dkim: true,
      subject: 'one',
    });
    expect(first.response).toMatch(/^250 /);
    await send(world.port, {
      from: 'ann@sender.test',
      to: ['alias@forward.test'],
      dkim: true,
      subject: 'two',
    });
    // One confirmation mail, from the null sender, whatever the number of messages waiting.
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 1);
    const [confirmation] = deliveredTo(world.peer, 'dest@inbox.test');
    expect(confirmation?.mailFrom).toMatch(/<>/);
    const text = confirmation?.content?.toString() ?? '';
    expect(text).toMatch(/^Subject: Confirm forwarding to dest@inbox\.test/m);
    const link = /Confirm: (\S+)/.exec(text)?.[1] ?? '';
    expect(link.startsWith(`${world.forwarder.adminUrl}/destinations/verify/`)).toBe(true);
    expect(await world.forwarder.destinations?.state('dest@inbox.test')).toBe('pending');
    const held = await world.forwarder.queue.list({ state: 'held', rcpt: 'dest@inbox.test' });
    expect(held).toHaveLength(2);

    // A link scanner's GET shows the page and confirms nothing.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect(await world.forwarder.destinations?.state('dest@inbox.test')).toBe('pending');
    expect((await fetch(`${world.forwarder.adminUrl}/destinations/verify/not-a-real-token-123`)).status).toBe(
      404,
    );

    const confirmed = await fetch(link, { method: 'POST' });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('2 held message(s) released');
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 3);
    const subjects = deliveredTo(world.peer, 'dest@inbox.test').map(
      (t) => /^Subject: (.*)$/m.exec(t.content?.toString() ?? '')?.[1],
    );
    expect(subjects.slice(1).sort()).toEqual(['one', 'two']);

    // Confirmed: the next message goes straight through.
    await send(world.port, {
      from: 'ann@sender.test',
      to: ['alias@forward.test'],
      dkim: true,
      subject: 'three',
    });
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 4);
  });
});
