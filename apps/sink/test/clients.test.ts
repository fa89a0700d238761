// Existing client libraries, unchanged, against the sink: the npm `mailpit-api` client (Mailpit
// API v1) and the npm `mailhog` client (MailHog API v1/v2). They prove the "existing client
// libraries work unchanged" promise: each test drives the library's own calls, not our fetches.

import mailhog from 'mailhog';
import { MailpitClient } from 'mailpit-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSink, type TestSink } from './helpers.ts';

let sink: TestSink;
let relayTarget: TestSink;
beforeAll(async () => {
  sink = await startSink();
  relayTarget = await startSink();
});
afterAll(async () => {
  await sink.close();
  await relayTarget.close();
});
beforeEach(() => {
  sink.store.deleteAll();
  sink.chaos.set({});
});

describe('mailpit-api client', () => {
  const client = () => new MailpitClient(sink.httpUrl);

  it('lists, searches and reads a message caught over SMTP', async () => {
    const id = await sink.send({
      from: 'App <app@example.test>',
      to: 'Alice <alice@example.test>',
      subject: 'Welcome aboard',
      text: 'Your code is 482913',
      html: '<p>Your code is <b>482913</b></p>',
      attachments: [{ filename: 'note.txt', content: 'attached text' }],
    });
    const mailpit = client();
    const list = await mailpit.listMessages();
    expect(list.messages.map((m) => m.ID)).toEqual([id]);
    expect(list.messages[0]?.From.Address).toBe('app@example.test');
    const found = await mailpit.searchMessages({ query: 'subject:welcome to:alice@example.test' });
    expect(found.messages_count).toBe(1);
    expect((await mailpit.searchMessages({ query: '-subject:welcome' })).messages_count).toBe(0);
    const message = await mailpit.getMessageSummary(id);
    expect(message.Subject).toBe('Welcome aboard');
    expect(message.Text.trim()).toBe('Your code is 482913');
    expect(message.Attachments[0]?.FileName).toBe('note.txt');
    const latest = await mailpit.getMessageSummary();
    expect(latest.ID).toBe(id);
    const headers = await mailpit.getMessageHeaders(id);
    expect(headers.Subject).toEqual(['Welcome aboard']);
    expect(await mailpit.getMessageSource(id)).toContain('Subject: Welcome aboard');
    const attachment = await mailpit.getMessageAttachment(id, message.Attachments[0]!.PartID);
    expect(await attachment.text()).toBe('attached text');
    expect(await mailpit.renderMessageHTML(id)).toContain('<b>482913</b>');
    expect((await mailpit.renderMessageText(id)).trim()).toBe('Your code is 482913');
  });

  it('sends through the API and waits for the message to arrive', async () => {
    const mailpit = client();
    const waiting = mailpit.waitForMessage({ query: 'subject:"sent via api"' }, { timeout: 20_000 });
    const sent = await mailpit.sendMessage({
      From: { Email: 'api@example.test', Name: 'API' },
      To: [{ Email: 'bob@example.test' }],
      Subject: 'Sent via API',
      Text: 'hello from the send endpoint',
      Tags: ['api'],
    });
    const arrived = await waiting;
    expect(arrived.ID).toBe(sent.ID);
    expect(arrived.Tags).toEqual(['api']);
    const all = await mailpit.waitForMessages({ count: 1 }, { timeout: 20_000 });
    expect(all.messages_count).toBe(1);
  });

  it('marks read, tags, and deletes by id and by search', async () => {
    const first = await sink.send({
      from: 'a@example.test',
      to: 'x@example.test',
      subject: 'first',
      text: 'x',
    });
    const second = await sink.send({
      from: 'b@example.test',
      to: 'y@example.test',
      subject: 'second',
      text: 'y',
    });
    const mailpit = client();
    expect(await mailpit.setReadStatus({ IDs: [first], Read: true })).toBe('ok');
    expect((await mailpit.listMessages()).unread).toBe(1);
    expect(await mailpit.setTags({ IDs: [first, second], Tags: ['Invoices'] })).toBe('ok');
    expect(await mailpit.getTags()).toEqual(['Invoices']);
    expect(await mailpit.renameTag('Invoices', 'Bills')).toBe('ok');
    expect((await mailpit.searchMessages({ query: 'tag:Bills' })).messages_count).toBe(2);
    expect(await mailpit.deleteTag('Bills')).toBe('ok');
    expect(await mailpit.getTags()).toEqual([]);
    expect(await mailpit.deleteMessagesBySearch({ query: 'from:a@example.test' })).toBe('ok');
    expect((await mailpit.listMessages()).messages.map((m) => m.ID)).toEqual([second]);
    expect(await mailpit.deleteMessages({ IDs: [second] })).toBe('ok');
    expect((await mailpit.listMessages()).total).toBe(0);
  });

  it('sets chaos triggers that make the SMTP side refuse mail', async () => {
    const mailpit = client();
    const triggers = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 100 } });
    expect(triggers.Recipient).toEqual({ ErrorCode: 550, Probability: 100 });
    await expect(sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' })).rejects.toThrow(
      /550/,
    );
    await mailpit.setChaosTriggers();
    expect((await mailpit.getChaosTriggers()).Recipient.Probability).toBe(0);
  });

  it('answers the info, check and configuration calls', async () => {
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      subject: 'checks',
      html: '<a href="http://127.0.0.1:9/x">link</a>',
    });
    const mailpit = client();
    const info = await mailpit.getInfo();
    expect(info.Messages).toBe(1);
    expect(typeof (await mailpit.getConfiguration()).Label).toBe('string');
    expect((await mailpit.htmlCheck(id)).Total).toBeDefined();
    const links = await mailpit.linkCheck(id);
    expect(links.Links.map((l) => l.URL)).toEqual(['http://127.0.0.1:9/x']);
  });
});

describe('mailhog client', () => {
  const client = () => mailhog({ host: sink.httpAddress.host, port: sink.httpAddress.port });

  it('lists messages with the decoded fields the client adds', async () => {
    const id = await sink.send({
      from: 'Sender <sender@example.test>',
      to: 'rcpt@example.test',
      subject: 'Grüße',
      text: 'plain body',
      html: '<p>html body</p>',
    });
    const result = await client().messages();
    expect(result?.total).toBe(1);
    const item = result!.items[0]!;
    expect(item.ID).toBe(id);
    expect(item.subject).toBe('Grüße');
    expect(item.from).toContain('sender@example.test');
    expect(item.to).toContain('rcpt@example.test');
    expect(item.text?.trim()).toBe('plain body');
    expect(item.html).toContain('<p>html body</p>');
  });

  it('finds the latest message from a sender, to a recipient and containing a text', async () => {
    await sink.send({
      from: 'one@example.test',
      to: 'first@example.test',
      subject: 'alpha',
      text: 'needle-1',
    });
    await sink.send({
      from: 'two@example.test',
      to: 'second@example.test',
      subject: 'beta',
      text: 'needle-2',
    });
    const api = client();
    expect((await api.latestFrom('one@example.test'))?.subject).toBe('alpha');
    expect((await api.latestTo('second@example.test'))?.subject).toBe('beta');
    expect((await api.latestContaining('needle-1'))?.subject).toBe('alpha');
    expect((await api.search('example.test', 'from'))?.total).toBe(2);
  });

  it('deletes one message and then all, although the client JSON-parses every non-empty reply', async () => {
    const first = await sink.send({ from: 'a@example.test', to: 'b@example.test', text: '1' });
    await sink.send({ from: 'a@example.test', to: 'b@example.test', text: '2' });
    const api = client();
    const one = (await api.deleteMessage(first)) as unknown as { statusCode: number };
    expect(one.statusCode).toBe(200);
    expect((await api.messages())?.total).toBe(1);
    const all = (await api.deleteAll()) as unknown as { statusCode: number };
    expect(all.statusCode).toBe(200);
    expect((await api.messages())?.total).toBe(0);
  });

  it('releases a message to another SMTP server', async () => {
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      subject: 'released',
      text: 'x',
    });
    const response = (await client().releaseMessage(id, {
      host: relayTarget.smtpAddress.host,
      port: relayTarget.smtpAddress.port,
      email: 'target@example.test',
    } as never)) as unknown as { statusCode: number };
    expect(response.statusCode).toBe(200);
    await relayTarget.store.idle();
    expect(relayTarget.store.latest()?.subject).toBe('released');
    expect(relayTarget.store.latest()?.rcptTo).toEqual(['target@example.test']);
  });
});
