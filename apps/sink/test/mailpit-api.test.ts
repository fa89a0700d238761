import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startSink, type TestSink } from './helpers.ts';

let sink: TestSink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  await sink.close();
});

async function fresh(): Promise<void> {
  await sink.get('/api/v1/messages', { method: 'DELETE', headers: { Accept: 'text/plain' } });
}

describe('Mailpit API v1', () => {
  it('lists a message caught over SMTP with Mailpit field names', async () => {
    await fresh();
    const id = await sink.send({
      from: 'App <app@example.test>',
      to: 'Alice Example <alice@example.test>',
      subject: 'Reset your password',
      text: 'Hello Alice, your code is 482913',
      attachments: [{ filename: 'a.txt', content: 'x' }],
    });
    const list = await sink.json('/api/v1/messages');
    expect(Object.keys(list)).toEqual([
      'total',
      'unread',
      'count',
      'messages_count',
      'messages_unread',
      'start',
      'tags',
      'messages',
    ]);
    expect(list.messages_count).toBe(1);
    const item = list.messages[0];
    expect(Object.keys(item)).toEqual([
      'ID',
      'MessageID',
      'Read',
      'From',
      'To',
      'Cc',
      'Bcc',
      'ReplyTo',
      'Subject',
      'Created',
      'Username',
      'Tags',
      'Size',
      'Attachments',
      'Snippet',
    ]);
    expect(item.ID).toBe(id);
    expect(item.ID).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(item.From).toEqual({ Name: 'App', Address: 'app@example.test' });
    expect(item.To).toEqual([{ Name: 'Alice Example', Address: 'alice@example.test' }]);
    expect(item.Attachments).toBe(1);
    expect(item.Read).toBe(false);
    expect(item.Snippet).toBe('Hello Alice, your code is 482913');
  });

  it('returns the full message, marks it read, and carries links, codes and verdicts', async () => {
    await fresh();
    const id = await sink.send({
      from: 'app@example.test',
      to: 'bob@example.test',
      subject: 'Verify',
      html: '<p>Use <b>739104</b> or <a href="https://app.example.test/verify?t=abc">verify</a></p>',
    });
    await sink.store.verdictsIdle();
    const message = await sink.json(`/api/v1/message/${id}`);
    expect(message.Subject).toBe('Verify');
    expect(message.HTML).toContain('739104');
    expect(message.Links).toContain('https://app.example.test/verify?t=abc');
    expect(message.Codes).toEqual(['739104']);
    expect(message.Verdicts.spf.result).toBe('none');
    expect(message.Verdicts.dmarc.result).toBe('none');
    const list = await sink.json('/api/v1/messages');
    expect(list.messages[0].Read).toBe(true);
  });

  it('serves `latest` and honours its query', async () => {
    await fresh();
    await sink.send({ from: 'a@example.test', to: 'x@example.test', subject: 'first one', text: '1' });
    await sink.send({ from: 'a@example.test', to: 'y@example.test', subject: 'second one', text: '2' });
    expect((await sink.json('/api/v1/message/latest')).Subject).toBe('second one');
    expect((await sink.json('/api/v1/message/latest?query=to:x@example.test')).Subject).toBe('first one');
    await fresh();
    const empty = await sink.get('/api/v1/message/latest');
    expect(empty.status).toBe(404);
    expect(await empty.text()).toBe('Message not found');
  });

  it('returns the raw source byte for byte, with the Received header prepended', async () => {
    await fresh();
    const raw =
      'From: a@example.test\r\nTo: b@example.test\r\nSubject: raw\r\n\r\nline one\r\n..dot line\r\n';
    const id = await sink.sendRaw(raw);
    const text = await (await sink.get(`/api/v1/message/${id}/raw`)).text();
    expect(text.startsWith('Received: ')).toBe(true);
    // The client dot-stuffs on the wire; the stored message is what it meant to send.
    expect(text.endsWith(raw)).toBe(true);
  });

  it('returns headers under canonical keys, sorted', async () => {
    await fresh();
    const id = await sink.sendRaw(
      'message-id: <h@example.test>\r\nSubject: h\r\nX-Custom: one\r\nX-Custom: two\r\n\r\nx\r\n',
    );
    const headers = await sink.json(`/api/v1/message/${id}/headers`);
    expect(headers['Message-Id']).toEqual(['<h@example.test>']);
    expect(headers['X-Custom']).toEqual(['one', 'two']);
    const keys = Object.keys(headers);
    expect(keys).toEqual([...keys].sort());
  });

  it('downloads an attachment part with its content type', async () => {
    await fresh();
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      text: 'see attached',
      attachments: [{ filename: 'report.csv', content: 'a,b\n1,2\n', contentType: 'text/csv' }],
    });
    const message = await sink.json(`/api/v1/message/${id}`);
    const part = message.Attachments[0];
    expect(part.FileName).toBe('report.csv');
    expect(part.Checksums.SHA256).toMatch(/^[0-9a-f]{64}$/);
    const response = await sink.get(`/api/v1/message/${id}/part/${part.PartID}`);
    expect(response.headers.get('content-type')).toContain('text/csv');
    expect(await response.text()).toBe('a,b\n1,2\n');
  });

  it('serves /view/ID.html and //view/ID.html (double slash) and /view/ID.txt', async () => {
    await fresh();
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      html: '<h1>Hi</h1>',
      text: 'Hi text',
    });
    for (const path of [`/view/${id}.html`, `//view/${id}.html`]) {
      const response = await sink.get(path);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<h1>Hi</h1>');
      expect(response.headers.get('content-security-policy')).toContain("script-src 'none'");
    }
    expect(await (await sink.get(`//view/${id}.txt`)).text()).toBe('Hi text');
    const textOnly = await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'plain' });
    const missing = await sink.get(`/view/${textOnly}.html`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('This message does not contain a HTML part');
  });

  it('answers a DELETE with `ok` when the client sends Accept, and an empty body when it does not', async () => {
    await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    const withAccept = await sink.get('/api/v1/messages', {
      method: 'DELETE',
      headers: { Accept: 'application/json' },
    });
    expect(await withAccept.text()).toBe('ok');
    await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    // Node's http.request (the mailhog client) sends no Accept header.
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${sink.httpUrl}/api/v1/messages`, { method: 'DELETE' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('');
    expect((await sink.json('/api/v1/messages')).total).toBe(0);
  });

  it('deletes chosen IDs and sets read state, matching JSON keys case-insensitively', async () => {
    await fresh();
    const a = await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'a', text: 'x' });
    const b = await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'b', text: 'x' });
    const put = await sink.get('/api/v1/messages', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ids: [a], read: true }),
    });
    expect(await put.text()).toBe('ok');
    let list = await sink.json('/api/v1/messages');
    expect(list.unread).toBe(1);
    await sink.get('/api/v1/messages', {
      method: 'DELETE',
      headers: { 'Content-Type': 'application/json', Accept: '*/*' },
      body: JSON.stringify({ iDs: [b] }),
    });
    list = await sink.json('/api/v1/messages');
    expect(list.messages.map((m: { ID: string }) => m.ID)).toEqual([a]);
  });

  it('searches with Mailpit syntax: prefixes, quoted phrases, negation, is:, has:', async () => {
    await fresh();
    await sink.send({
      from: 'Alice <alice@example.test>',
      to: 'bob@example.test',
      subject: 'Quarterly report',
      text: 'numbers inside',
    });
    await sink.send({
      from: 'carol@example.test',
      to: 'dave@example.test',
      subject: 'Lunch plans',
      text: 'pizza?',
      attachments: [{ filename: 'menu.pdf', content: 'x' }],
    });
    const subjects = async (query: string) =>
      (await sink.json(`/api/v1/search?query=${encodeURIComponent(query)}`)).messages.map(
        (m: { Subject: string }) => m.Subject,
      );
    expect(await subjects('from:alice')).toEqual(['Quarterly report']);
    expect(await subjects('subject:"quarterly report"')).toEqual(['Quarterly report']);
    expect(await subjects('-from:alice')).toEqual(['Lunch plans']);
    expect(await subjects('!subject:lunch')).toEqual(['Quarterly report']);
    expect(await subjects('has:attachment')).toEqual(['Lunch plans']);
    expect(await subjects('pizza')).toEqual(['Lunch plans']);
    expect(await subjects('menu.pdf')).toEqual(['Lunch plans']);
    expect(await subjects('is:unread to:bob')).toEqual(['Quarterly report']);
    expect(await subjects('larger:100m')).toEqual([]);
    const bad = await sink.get('/api/v1/search?query=');
    expect(bad.status).toBe(400);
  });

  it('deletes the messages a search matches', async () => {
    await fresh();
    await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'keep', text: 'x' });
    await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'drop', text: 'x' });
    expect(await (await sink.get('/api/v1/search?query=subject:drop', { method: 'DELETE' })).text()).toBe(
      'ok',
    );
    const list = await sink.json('/api/v1/messages');
    expect(list.messages.map((m: { Subject: string }) => m.Subject)).toEqual(['keep']);
  });

  it('accepts a message through POST /api/v1/send (Mailpit keys, any case)', async () => {
    await fresh();
    const response = await sink.json('/api/v1/send', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        from: { email: 'api@example.test', name: 'API' },
        To: [{ Email: 'to@example.test' }],
        Subject: 'Sent by API',
        Text: 'body',
        Tags: ['api'],
        Attachments: [{ Content: Buffer.from('hi').toString('base64'), FileName: 'hi.txt' }],
      }),
    });
    expect(response.ID).toMatch(/^[0-9A-Za-z]{22}$/);
    const message = await sink.json(`/api/v1/message/${response.ID}`);
    expect(message.Subject).toBe('Sent by API');
    expect(message.Tags).toEqual(['api']);
    expect(message.Attachments[0].FileName).toBe('hi.txt');
    expect(await sink.json('/api/v1/tags')).toEqual(['api']);
  });

  it('long-polls /api/v1/wait until a matching message arrives', async () => {
    await fresh();
    const waiting = sink.json('/api/v1/wait?query=subject:awaited&timeout=30');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'other', text: 'x' });
    await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'awaited', text: 'code 5521' });
    const message = await waiting;
    expect(message.Subject).toBe('awaited');
    expect(message.Codes).toEqual(['5521']);
  });

  it('pushes new messages over the /api/events WebSocket', async () => {
    await fresh();
    const ws = new WebSocket(`${sink.httpUrl.replace('http', 'ws')}/api/events`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const event = new Promise<{ Type: string; Data: { Subject: string } }>((resolve) => {
      ws.on('message', (data) => {
        const parsed = JSON.parse(String(data));
        if (parsed.Type === 'new') resolve(parsed);
      });
    });
    await sink.send({ from: 'a@example.test', to: 'b@example.test', subject: 'live', text: 'x' });
    expect((await event).Data.Subject).toBe('live');
    ws.close();
  });

  it('answers SMTP with the chaos error code set through /api/v1/chaos', async () => {
    const set = await sink.json('/api/v1/chaos', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ Recipient: { ErrorCode: 452, Probability: 100, Match: 'fail@' } }),
    });
    expect(set.Recipient).toMatchObject({ ErrorCode: 452, Probability: 100 });
    await expect(
      sink.send({ from: 'a@example.test', to: 'fail@example.test', text: 'x' }),
    ).rejects.toMatchObject({
      responseCode: 452,
    });
    await expect(sink.send({ from: 'a@example.test', to: 'ok@example.test', text: 'x' })).resolves.toMatch(
      /\w{22}/,
    );
    await sink.json('/api/v1/chaos', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
  });

  it('reports info and webui configuration', async () => {
    const info = await sink.json('/api/v1/info');
    expect(info).toMatchObject({
      Database: expect.stringContaining('sink.db'),
      RuntimeStats: expect.any(Object),
    });
    expect(info.RuntimeStats.SMTPAccepted).toBeGreaterThan(0);
    const webui = await sink.json('/api/v1/webui');
    expect(webui.MessageRelay.Enabled).toBe(false);
    expect((await sink.get('/api/v1/message/latest/sa-check')).status).toBe(404);
  });
});

describe('basic auth', () => {
  it('refuses the API without credentials and serves it with them', async () => {
    await using secured = await startSink({ uiAuth: new Map([['dev', 's3cret']]) });
    expect((await secured.get('/api/v1/messages')).status).toBe(401);
    const ok = await secured.get('/api/v1/messages', {
      headers: { Authorization: `Basic ${Buffer.from('dev:s3cret').toString('base64')}` },
    });
    expect(ok.status).toBe(200);
  });
});
