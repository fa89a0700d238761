import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSink, type TestSink } from './helpers.ts';

const CORPUS = join(import.meta.dirname, '../../../../shared/testdata/python-email-corpus');

let sink: TestSink;
beforeAll(async () => {
  sink = await startSink({ maxMessages: 0, maxMessageSize: 200 * 1024 * 1024 });
});
afterAll(async () => {
  await sink.close();
});

describe('bad input', () => {
  it('accepts every message of the Python email corpus and serves each through both APIs', async () => {
    const files = readdirSync(CORPUS).filter((f) => /^msg_\d+\.txt$/.test(f));
    expect(files.length).toBeGreaterThan(40);
    for (const file of files) {
      const raw = readFileSync(join(CORPUS, file));
      let id = '';
      try {
        id = await sink.sendRaw(raw);
      } catch (error) {
        // Refusing is allowed only as a clear permanent reply.
        expect((error as { responseCode?: number }).responseCode, file).toBeGreaterThanOrEqual(500);
        continue;
      }
      expect(id, file).toMatch(/^\w{22}$/);
      for (const path of [
        `/api/v1/message/${id}`,
        `/api/v1/message/${id}/headers`,
        `/api/v1/message/${id}/raw`,
        `/api/v1/messages/${id}`,
      ]) {
        const response = await sink.get(path);
        expect(response.status, `${file} ${path}`).toBe(200);
        await response.arrayBuffer();
      }
      const html = await sink.get(`/view/${id}.html`);
      expect([200, 404], file).toContain(html.status);
    }
    expect((await sink.get('/api/v2/messages?limit=250')).status).toBe(200);
    expect((await sink.json('/api/v1/messages?limit=0')).messages.length).toBe(sink.store.count().total);
    expect(await (await sink.get('/livez')).text()).toBe('ok');
  }, 120_000);
});
