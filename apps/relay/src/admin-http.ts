// The admin HTTP listener of a relaying app: loopback by default, every route but /healthz behind a
// bearer token (compared in constant time). Routes:
//   GET  /healthz                              liveness (no token)
//   GET  /metrics                              Prometheus text format
//   GET  /api/queue?state=&rcpt=&limit=        list messages
//   GET  /api/queue/:id                        one message with its attempts
//   POST /api/queue/:id/{retry,hold,release,bounce}[?rcpt=]   operator changes
//   DELETE /api/queue/:id
//   POST /api/messages?from=&to=&to=           inject a raw message (the body) with its envelope;
//                                              answers 200 {queueId} only after the queue committed.
// Not relay-specific: the forwarder needs the same listener (a candidate for a shared package).

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue, RecipientState } from '@mailyard/queue';
import { type Envelope, parseAddress, SmtpError } from '@mailyard/smtp';
import type { Registry } from 'prom-client';
import type { AcceptPipeline } from './accept-pipeline.ts';
import type { Logger } from './logger.ts';

export interface AdminHttpOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly queue: Queue;
  readonly pipeline: AcceptPipeline;
  readonly registry: Registry;
  readonly logger: Logger;
}

export interface AdminHttp extends AsyncDisposable {
  /** `http://host:port` once listening. */
  readonly url: string;
  close(): Promise<void>;
}

const STATES = new Set(['pending', 'delivering', 'delivered', 'deferred', 'bounced', 'held']);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export async function openAdminHttp(options: AdminHttpOptions): Promise<AdminHttp> {
  const { queue, logger } = options;
  const expected = digest(`Bearer ${options.token}`);
  const authorized = (req: IncomingMessage): boolean =>
    // Hashing both sides gives equal lengths, so timingSafeEqual applies and length leaks nothing.
    timingSafeEqual(digest(req.headers.authorization ?? ''), expected);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'unauthorized' });
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const text = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(text);
      return;
    }
    if (parts[0] === 'api' && parts[1] === 'queue') {
      const id = parts[2];
      const rcpt = url.searchParams.get('rcpt') ?? undefined;
      if (!id && req.method === 'GET') {
        const state = url.searchParams.getAll('state').filter((s) => STATES.has(s)) as RecipientState[];
        const list = await queue.list({
          ...(state.length ? { state } : {}),
          ...(rcpt ? { rcpt } : {}),
          limit: Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, 10_000),
        });
        return send(res, 200, list);
      }
      if (id && parts.length === 3 && req.method === 'GET') {
        const detail = await queue.show(id);
        return detail ? send(res, 200, detail) : send(res, 404, { error: 'no such message' });
      }
      if (id && parts.length === 3 && req.method === 'DELETE') {
        return (await queue.delete(id))
          ? send(res, 200, { deleted: id })
          : send(res, 404, { error: 'no such message' });
      }
      const action = parts[3];
      if (
        id &&
        req.method === 'POST' &&
        (action === 'retry' || action === 'hold' || action === 'release' || action === 'bounce')
      ) {
        const count = await queue[action](id, rcpt);
        logger.info({ queueId: id, rcpt, action, count }, `operator ${action}`);
        return send(res, 200, { queueId: id, action, count });
      }
    }
    if (req.method === 'POST' && url.pathname === '/api/messages') {
      let envelope: Envelope;
      try {
        const from = url.searchParams.get('from') ?? '';
        const to = url.searchParams.getAll('to');
        if (to.length === 0) return send(res, 400, { error: 'at least one to= recipient is needed' });
        envelope = {
          mailFrom: from === '' ? null : parseAddress(from),
          rcptTo: to.map((t) => ({ address: parseAddress(t) })),
          params: {},
        };
      } catch (error) {
        return send(res, 400, { error: error instanceof Error ? error.message : String(error) });
      }
      try {
        // The body streams into the queue, which refuses more than its maxMessageSize (552).
        const accepted = await options.pipeline.accept({
          envelope,
          message: req,
          clientIp: null,
          authUser: null,
        });
        return send(res, 200, accepted);
      } catch (error) {
        const smtp = SmtpError.from(error);
        if (smtp.code === 451) logger.error({ err: error }, 'injection failed');
        return send(res, smtp.temporary ? 503 : 422, {
          error: smtp.reply,
          code: smtp.code,
          enhanced: smtp.enhanced,
        });
      }
    }
    return send(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
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
