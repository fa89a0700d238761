// The admin HTTP listener of a service: loopback by default, every route but /healthz and the
// app's public routes behind a bearer token (compared in constant time). Its own routes:
//   GET  /healthz                              liveness (no token)
//   GET  /metrics                              Prometheus text format
// then the app's public routes (the forwarder's destination confirmation pages), then, behind the
// token and in order, the app's routes (the relay's queue API and message injection): the first
// that answers true has answered; 404 if none. A route that throws gets 500 and a log line.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/**
 * One of an app's endpoints: answers the (already authorized) request and resolves true, or
 * resolves false to leave it to the next route. `url` is the request's URL, parsed.
 */
export type AdminRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface AdminHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Served at /metrics. */
  readonly registry: Pick<Registry, 'metrics' | 'contentType'>;
  readonly logger: Logger;
  readonly routes?: readonly AdminRoute[];
  /**
   * Routes served without the token, before it is checked: pages for people outside the
   * operator's team, such as the forwarder's destination confirmation links.
   */
  readonly publicRoutes?: readonly AdminRoute[];
}

export interface AdminHttp extends AsyncDisposable {
  /** `http://host:port` once listening. */
  readonly url: string;
  close(): Promise<void>;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Answers with `body` as JSON; resolves true, as a route that answered does. */
export function sendJson(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}

export async function openAdminHttp(options: AdminHttpOptions): Promise<AdminHttp> {
  const { logger } = options;
  const routes = options.routes ?? [];
  const expected = digest(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage): boolean =>
    // Hashing both sides gives equal lengths, so timingSafeEqual applies and length leaks nothing.
    timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    for (const route of options.publicRoutes ?? []) if (await route(req, res, url)) return;
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, 401, { error: 'unauthorized' });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const text = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(text);
      return;
    }
    for (const route of routes) if (await route(req, res, url)) return;
    sendJson(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://${host}:${address.port}`, close, [Symbol.asyncDispose]: close };
}
