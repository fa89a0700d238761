import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openTempDir, type TempDir } from '@mailyard/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelope } from '../test/helpers.ts';
import { openQueue, type Queue } from './queue.ts';
import { createQueueHttpHandler } from './queue-http.ts';
import { openSqliteStore, type SqliteStore } from './sqlite-store.ts';

describe('createQueueHttpHandler', () => {
  let dir: TempDir;
  let store: SqliteStore;
  let queue: Queue;
  let server: Server;
  let base: string;
  const logged: object[] = [];
  beforeAll(async () => {
    dir = await openTempDir();
    store = await openSqliteStore({ path: dir.join('queue.db') });
    queue = await openQueue({ store });
    const handler = createQueueHttpHandler(queue, {
      logger: { info: (fields) => logged.push(fields), warn() {}, error() {} },
    });
    // The app's admin listener plays this part: it hands every request over and answers 404 after.
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://admin');
      handler(req, res, url).then((answered) => {
        if (!answered) res.writeHead(404).end('passed');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await queue?.close();
    await store?.close();
    await dir?.[Symbol.asyncDispose]();
  });

  const call = async (path: string, method = 'GET') => {
    const response = await fetch(`${base}${path}`, { method });
    const text = await response.text();
    return { status: response.status, body: text === 'passed' ? text : (JSON.parse(text) as unknown) };
  };

  it('lists, shows, holds, releases, retries, bounces and deletes, logging each operator change', async () => {
    const { queueId } = await queue.enqueue({
      envelope: envelope('a@example.org', ['b@example.net', 'c@example.net']),
      message: 'Subject: x\r\n\r\nx\r\n',
    });
    const list = await call('/api/queue?state=pending&limit=10');
    expect(list.body).toEqual([expect.objectContaining({ queueId })]);
    expect(await call(`/api/queue/${queueId}`)).toMatchObject({ status: 200, body: { queueId } });
    expect(await call(`/api/queue/${queueId}/hold?rcpt=c@example.net`, 'POST')).toEqual({
      status: 200,
      body: { queueId, action: 'hold', count: 1 },
    });
    expect((await call('/api/queue?state=held')).body).toEqual([expect.objectContaining({ queueId })]);
    expect((await call(`/api/queue/${queueId}/release`, 'POST')).body).toMatchObject({ count: 1 });
    expect((await call(`/api/queue/${queueId}/retry`, 'POST')).body).toMatchObject({ action: 'retry' });
    expect(await call(`/api/queue/${queueId}`, 'DELETE')).toEqual({
      status: 200,
      body: { deleted: queueId },
    });
    expect(await call(`/api/queue/${queueId}`)).toEqual({ status: 404, body: { error: 'no such message' } });
    expect(await call(`/api/queue/${queueId}`, 'DELETE')).toMatchObject({ status: 404 });
    expect(logged).toEqual([
      { queueId, rcpt: 'c@example.net', action: 'hold', count: 1 },
      { queueId, rcpt: undefined, action: 'release', count: 1 },
      expect.objectContaining({ queueId, action: 'retry' }),
    ]);
  });

  it('leaves other paths and unknown actions to the next handler', async () => {
    expect(await call('/api/messages', 'POST')).toEqual({ status: 404, body: 'passed' });
    expect(await call('/api/queue/ABC/explode', 'POST')).toEqual({ status: 404, body: 'passed' });
    expect(await call('/api/queue', 'POST')).toEqual({ status: 404, body: 'passed' });
  });
});
