import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminHttp, openAdminHttp, sendJson } from './admin-http.ts';
import type { Logger } from './logger.ts';

const TOKEN = 'test-admin-token-0123456789';
const errors: object[] = [];
const logger: Logger = { info() {}, warn() {}, debug() {}, error: (fields) => errors.push(fields) };

describe('openAdminHttp', () => {
  let admin: AdminHttp;
  const seen: string[] = [];
  beforeAll(async () => {
    admin = await openAdminHttp({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      registry: new Registry(),
      logger,
      publicRoutes: [
        async (_req, res, url) =>
          url.pathname.startsWith('/public/') ? sendJson(res, 200, { route: 'public' }) : false,
      ],
      routes: [
        async (_req, res, url) => {
          seen.push(`first ${url.pathname}`);
          return url.pathname === '/api/one' ? sendJson(res, 200, { route: 'one' }) : false;
        },
        async (req, res, url) => {
          seen.push(`second ${url.pathname}`);
          if (url.pathname === '/api/boom') throw new Error('broken');
          if (req.method === 'POST' && url.pathname === '/api/one')
            return sendJson(res, 201, { route: 'two' });
          return false;
        },
      ],
    });
  });
  afterAll(async () => {
    await admin?.close();
  });

  const get = (path: string, token: string | null = TOKEN, method = 'GET') =>
    fetch(`${admin.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('listens on loopback at its url and answers /healthz without a token', async () => {
    expect(admin.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await get('/healthz', null);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('refuses everything else without the right bearer token, before any route sees it', async () => {
    seen.length = 0;
    for (const token of [null, 'wrong', `${TOKEN}x`]) {
      const response = await get('/api/one', token);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await get('/metrics', null)).status).toBe(401);
    expect(seen).toEqual([]);
  });

  it('serves the registry in the Prometheus text format at /metrics', async () => {
    const response = await get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
  });

  it("hands the app's routes the request in order; the first that answers wins; 404 when none does", async () => {
    seen.length = 0;
    expect(await (await get('/api/one')).json()).toEqual({ route: 'one' });
    expect(seen).toEqual(['first /api/one']);
    seen.length = 0;
    const posted = await get('/api/one', TOKEN, 'POST');
    expect(posted.status).toBe(200);
    const missing = await get('/api/none');
    expect(missing.status).toBe(404);
    expect(seen).toEqual(['first /api/one', 'first /api/none', 'second /api/none']);
  });

  it('serves public routes without a token and leaves other paths to the token check', async () => {
    const open = await get('/public/page', null);
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ route: 'public' });
    expect((await get('/api/one', null)).status).toBe(401);
  });

  it('answers 500 and logs the error when a route throws', async () => {
    const response = await get('/api/boom');
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: 'internal error' });
    expect(errors).toEqual([
      expect.objectContaining({ err: expect.objectContaining({ message: 'broken' }) }),
    ]);
  });
});
