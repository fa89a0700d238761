// MailHog API v1/v2 as the real server behaves (mailhog/MailHog-Server api/v1.go, api/v2.go;
// SINK-API.md §2): v2 list and search with `items`, v1 delete with an empty body, release, Jim.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { field, type SinkContext } from './context.ts';
import { mailhogMessage } from './mailhog-json.ts';
import { isMessageId } from './message-id.ts';
import { releaseMessage } from './release.ts';
import type { SinkEvent, StoredMessage } from './store.ts';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string> }>;

function int(value: string | undefined, fallback: number): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

const JIM_DEFAULTS = {
  DisconnectChance: 0.005,
  AcceptChance: 0.99,
  LinkSpeedAffect: 0.1,
  LinkSpeedMin: 1024,
  LinkSpeedMax: 10240,
  RejectSenderChance: 0.05,
  RejectRecipientChance: 0.05,
  RejectAuthChance: 0.05,
};

function applyJim(ctx: SinkContext): void {
  const jim = ctx.jim;
  ctx.chaos.set(
    jim
      ? {
          Sender: { ErrorCode: 550, Probability: (jim.RejectSenderChance ?? 0) * 100 },
          Recipient: { ErrorCode: 550, Probability: (jim.RejectRecipientChance ?? 0) * 100 },
          Authentication: { ErrorCode: 550, Probability: (jim.RejectAuthChance ?? 0) * 100 },
        }
      : {},
  );
}

export function registerMailhog(app: FastifyInstance, ctx: SinkContext): void {
  const { store } = ctx;
  const toJson = async (messages: readonly StoredMessage[]) =>
    Promise.all(messages.map(async (m) => mailhogMessage(m, await store.readRaw(m.id))));

  app.get('/api/v2/messages', async (req: Req, reply) => {
    await store.idle();
    const start = int(req.query.start, 0);
    const limit = Math.min(int(req.query.limit, 50) || 50, 250);
    const messages = store.list({ start, limit });
    const items = await toJson(messages);
    return reply
      .type('text/json')
      .send(JSON.stringify({ total: store.count().total, count: items.length, start, items }));
  });

  app.get('/api/v2/search', async (req: Req, reply) => {
    const kind = req.query.kind ?? '';
    const query = (req.query.query ?? '').toLowerCase();
    if (!['from', 'to', 'containing'].includes(kind) || !query) return reply.code(400).send('');
    await store.idle();
    const start = int(req.query.start, 0);
    const limit = Math.min(int(req.query.limit, 50) || 50, 250);
    // MailHog matches the envelope or the header (or, for `containing`, body and headers):
    // prefilter in SQL, then check on the raw message like MailHog does.
    const like = `%${query}%`;
    const candidates =
      kind === 'containing'
        ? store.ids()
        : store.ids({
            sql:
              kind === 'to'
                ? 'lower(rcpt_to) LIKE ? OR lower(to_json) LIKE ?'
                : "lower(coalesce(mail_from, '')) LIKE ? OR lower(from_json) LIKE ?",
            params: [like, like],
          });
    const matches: StoredMessage[] = [];
    for (const id of candidates) {
      const message = store.get(id);
      if (!message) continue;
      if (kind === 'containing') {
        const raw = (await store.readRaw(id)).toString('utf8').toLowerCase();
        if (!raw.includes(query)) continue;
      }
      matches.push(message);
    }
    const page = matches.slice(start, start + limit);
    return reply
      .type('application/json')
      .send(JSON.stringify({ total: matches.length, count: page.length, start, items: await toJson(page) }));
  });

  app.get('/api/v1/messages/:id', async (req: Req, reply) => {
    await store.idle();
    const message = isMessageId(req.params.id!) ? store.get(req.params.id!) : null;
    if (!message) return reply.type('application/json').send('null');
    return reply
      .type('application/json')
      .send(JSON.stringify(mailhogMessage(message, await store.readRaw(message.id))));
  });

  app.delete('/api/v1/messages/:id', async (req: Req, reply: FastifyReply) => {
    const id = req.params.id!;
    if (!isMessageId(id) || !store.get(id)) return reply.code(500).send('');
    store.delete([id]);
    return reply.code(200).send('');
  });

  app.get('/api/v1/messages/:id/download', async (req: Req, reply) => {
    const message = isMessageId(req.params.id!) ? store.get(req.params.id!) : null;
    if (!message) return reply.code(404).send('');
    reply.header('content-disposition', `attachment; filename="${message.id}.eml"`);
    return reply.type('message/rfc822').send(store.openRaw(message.id));
  });

  app.post('/api/v1/messages/:id/release', async (req: Req, reply) => {
    const message = isMessageId(req.params.id!) ? store.get(req.params.id!) : null;
    if (!message) return reply.code(404).send('');
    const host = String(field(req.body, 'Host') ?? '');
    const port = Number(field(req.body, 'Port') ?? 25);
    const email = String(field(req.body, 'Email') ?? '');
    if (!host || !email) return reply.code(400).send('');
    const username = field(req.body, 'Username');
    const password = field(req.body, 'Password');
    try {
      await releaseMessage(
        {
          host,
          port,
          ...(typeof username === 'string' && username ? { username, password: String(password ?? '') } : {}),
        },
        { from: message.mailFrom ?? '', to: [email] },
        store.openRaw(message.id),
      );
    } catch {
      return reply.code(500).send('');
    }
    return reply.code(200).send('');
  });

  app.get('/api/v1/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write('\n');
    const listener = (event: SinkEvent) => {
      if (event.Type !== 'new') return;
      const message = event.Data as StoredMessage;
      void store.readRaw(message.id).then(
        (raw) => {
          res.write(`event: data\ndata: ${JSON.stringify(mailhogMessage(message, raw))}\n\n`);
        },
        () => {},
      );
    };
    const keepalive = setInterval(() => res.write('event: keepalive\ndata: keepalive\n\n'), 60_000);
    store.events.on('event', listener);
    req.raw.on('close', () => {
      clearInterval(keepalive);
      store.events.off('event', listener);
    });
  });

  app.get('/api/v2/outgoing-smtp', async () =>
    ctx.relay ? { default: { Name: 'default', Host: ctx.relay.host, Port: String(ctx.relay.port) } } : {},
  );

  app.get('/api/v2/jim', async (_req, reply) => (ctx.jim ? reply.send(ctx.jim) : reply.code(404).send('')));
  app.post('/api/v2/jim', async (req: Req, reply) => {
    if (ctx.jim) return reply.code(400).send('');
    ctx.jim = { ...JIM_DEFAULTS };
    for (const key of Object.keys(JIM_DEFAULTS)) {
      const value = field(req.body, key);
      if (typeof value === 'number') ctx.jim[key] = value;
    }
    applyJim(ctx);
    return reply.code(201).send('');
  });
  app.put('/api/v2/jim', async (req: Req, reply) => {
    if (!ctx.jim) return reply.code(404).send('');
    for (const key of Object.keys(JIM_DEFAULTS)) {
      const value = field(req.body, key);
      if (typeof value === 'number') ctx.jim[key] = value;
    }
    applyJim(ctx);
    return reply.code(200).send('');
  });
  app.delete('/api/v2/jim', async (_req, reply) => {
    if (!ctx.jim) return reply.code(404).send('');
    ctx.jim = null;
    applyJim(ctx);
    return reply.code(200).send('');
  });
}
