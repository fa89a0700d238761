import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSink, type TestSink } from './helpers.ts';

let sink: TestSink;
beforeAll(async () => {
  sink = await startSink();
});
afterAll(async () => {
  await sink.close();
});
beforeEach(async () => {
  await sink.get('/api/v1/messages', { method: 'DELETE', headers: { Accept: 'text/plain' } });
});

/** As the mailhog npm client does it: node:http, no Accept header, raw body text. */
function plainRequest(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sink.httpUrl}${path}`, { method }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('MailHog API', () => {
  it('lists messages in /api/v2/messages with `items` and PascalCase fields, sharing the Mailpit ID', async () => {
    const id = await sink.send({
      from: 'noreply@app.example.test',
      to: ['bob@example.test', 'carol@example.test'],
      subject: 'Welcome',
      text: 'hello',
      attachments: [{ filename: 'a.pdf', content: 'x' }],
    });
    const response = await sink.get('/api/v2/messages');
    expect(response.headers.get('content-type')).toContain('text/json');
    const data = JSON.parse(await response.text());
    expect(Object.keys(data)).toEqual(['total', 'count', 'start', 'items']);
    const item = data.items[0];
    expect(item.ID).toBe(id);
    expect(item.From).toEqual({ Relays: null, Mailbox: 'noreply', Domain: 'app.example.test', Params: '' });
    expect(item.To.map((p: { Mailbox: string }) => p.Mailbox)).toEqual(['bob', 'carol']);
    expect(item.Content.Headers.Subject).toEqual(['Welcome']);
    expect(item.Raw.From).toBe('noreply@app.example.test');
    expect(item.Raw.To).toEqual(['bob@example.test', 'carol@example.test']);
    expect(
      item.MIME.Parts.some((p: { Headers: Record<string, string[]> }) =>
        /attachment/.test(p.Headers['Content-Disposition']?.[0] ?? ''),
      ),
    ).toBe(true);
    expect(item.Content.MIME).toBeNull();
  });

  it('searches by kind from, to and containing, and refuses a bad kind with 400', async () => {
    await sink.send({
      from: 'alice@example.test',
      to: 'bob@example.test',
      subject: 'one',
      text: 'needle here',
    });
    await sink.send({ from: 'carol@example.test', to: 'dave@example.test', subject: 'two', text: 'nothing' });
    const subjects = async (kind: string, query: string) =>
      (await sink.json(`/api/v2/search?kind=${kind}&query=${encodeURIComponent(query)}`)).items.map(
        (m: { Content: { Headers: { Subject: string[] } } }) => m.Content.Headers.Subject[0],
      );
    expect(await subjects('from', 'ALICE@')).toEqual(['one']);
    expect(await subjects('to', 'dave')).toEqual(['two']);
    expect(await subjects('containing', 'needle')).toEqual(['one']);
    expect((await sink.get('/api/v2/search?kind=subject&query=x')).status).toBe(400);
  });

  it('deletes one message with 200 and an empty body, and answers 500 for an unknown one', async () => {
    const id = await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    expect(await plainRequest('DELETE', `/api/v1/messages/${id}`)).toEqual({ status: 200, body: '' });
    expect((await plainRequest('DELETE', `/api/v1/messages/${id}`)).status).toBe(500);
  });

  it('deletes all with an empty body that JSON-parsing clients accept', async () => {
    await sink.send({ from: 'a@example.test', to: 'b@example.test', text: 'x' });
    expect(await plainRequest('DELETE', '/api/v1/messages')).toEqual({ status: 200, body: '' });
    expect((await sink.json('/api/v2/messages')).count).toBe(0);
  });

  it('releases a message to the SMTP server named in the (lowercase-keyed) request', async () => {
    await using target = await startSink();
    const id = await sink.send({
      from: 'a@example.test',
      to: 'b@example.test',
      subject: 'released',
      text: 'x',
    });
    const result = await plainRequest(
      'POST',
      `/api/v1/messages/${id}/release`,
      JSON.stringify({
        host: target.smtpAddress.host,
        port: target.smtpAddress.port,
        email: 'out@example.test',
      }),
    );
    expect(result.status).toBe(200);
    await target.store.idle();
    const caught = await target.json('/api/v1/messages');
    expect(caught.messages[0].Subject).toBe('released');
  });

  it('switches Jim on and off as cypress-mailhog expects', async () => {
    expect((await sink.get('/api/v2/jim')).status).toBe(404);
    expect((await sink.get('/api/v2/jim', { method: 'POST' })).status).toBe(201);
    expect((await sink.get('/api/v2/jim')).status).toBe(200);
    expect((await sink.get('/api/v2/jim', { method: 'DELETE' })).status).toBe(200);
    expect((await sink.get('/api/v2/jim')).status).toBe(404);
  });
});
