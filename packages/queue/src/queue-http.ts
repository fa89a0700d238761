// The queue's operator API over HTTP, as a handler for an app's admin listener (the queue itself
// never opens a socket: the app's listener authenticates the request and hands it here). Routes:
//   GET  /api/queue?state=&rcpt=&limit=        list messages
//   GET  /api/queue/:id                        one message with its attempts
//   POST /api/queue/:id/{retry,hold,release,bounce}[?rcpt=]   operator changes
//   DELETE /api/queue/:id
// Answers are JSON; every operator change is logged with its queueId.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { QueueLogger } from './events.ts';
import type { Queue } from './queue.ts';
import type { RecipientState } from './store.ts';

/** Answers the request and resolves true, or resolves false when the path is not the queue's. */
export type QueueHttpHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface QueueHttpOptions {
  readonly logger?: QueueLogger;
}

const STATES = new Set(['pending', 'delivering', 'delivered', 'deferred', 'bounced', 'held']);

function send(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}

export function createQueueHttpHandler(queue: Queue, options: QueueHttpOptions = {}): QueueHttpHandler {
  const { logger } = options;
  return async (req, res, url) => {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'api' || parts[1] !== 'queue') return false;
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
      logger?.info({ queueId: id, rcpt, action, count }, `operator ${action}`);
      return send(res, 200, { queueId: id, action, count });
    }
    return false;
  };
}
