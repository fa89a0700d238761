// The sink's HTTP side on fastify: Mailpit API v1 + MailHog API v1/v2 on one port, the event
// streams, the web UI, optional basic auth. Lenient at the edges the way the real servers are:
// `//view/ID.html` (double slash) works, request JSON keys match case-insensitively, and a
// DELETE with no or a bad body is fine.

import { timingSafeEqual } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import type { SinkContext } from './context.ts';
import { createEventHub } from './events.ts';
import { registerMailhog } from './mailhog-routes.ts';
import { registerMailpit } from './mailpit-routes.ts';
import { registerUi } from './ui-assets.ts';

export interface HttpOptions {
  readonly context: SinkContext;
  /** UI/API basic auth: user -> password. Absent = open (the listener is loopback by default). */
  readonly basicAuth?: ReadonlyMap<string, string> | null;
  /** Largest request body (send API), bytes. */
  readonly bodyLimit?: number;
}

function checkBasic(header: string | undefined, users: ReadonlyMap<string, string>): boolean {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const expected = users.get(decoded.slice(0, colon));
  if (expected === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(decoded.slice(colon + 1));
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createHttpApp(options: HttpOptions): FastifyInstance {
  const app = fastify({
    logger: false,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    // Go's ServeMux cleans `//view/x.html` (cypress-mailpit sends it); collapse repeated slashes.
    rewriteUrl: (req) => (req.url ?? '/').replace(/^\/{2,}/, '/'),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
  });
  // Clients send JSON with odd content types, empty DELETE bodies, or no body at all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body ?? '').trim();
    if (!text) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(null, text);
    }
  });

  const users = options.basicAuth;
  if (users && users.size > 0) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.url === '/livez' || req.url === '/readyz') return;
      if (!checkBasic(req.headers.authorization, users)) {
        reply.header('www-authenticate', 'Basic realm="mailyard"');
        return reply.code(401).type('text/plain').send('Unauthorised.\n');
      }
    });
  }

  const hub = createEventHub(options.context.store);
  app.server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').replace(/^\/{2,}/, '/').split('?')[0];
    if (
      path !== '/api/events' ||
      (users && users.size > 0 && !checkBasic(req.headers.authorization, users))
    ) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
      return;
    }
    hub.handleUpgrade(req, socket, head);
  });
  app.addHook('onClose', async () => hub.close());

  app.get('/livez', async (_req, reply) => reply.type('text/plain').send('ok'));
  app.get('/readyz', async (_req, reply) => reply.type('text/plain').send('ok'));
  registerMailpit(app, options.context);
  registerMailhog(app, options.context);
  registerUi(app);
  app.setErrorHandler((error: Error & { statusCode?: number }, _req, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    reply
      .code(status)
      .type('text/plain; charset=utf-8')
      .send(error.message || 'internal error');
  });
  return app;
}
