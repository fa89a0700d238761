// Mailpit API v1 (../shared/testdata/mailpit-api/swagger.json, behaviour per SINK-API.md §1):
// messages, search, message, headers, raw, parts, view, send, release, tags, chaos, info, webui,
// plus the sink's own `GET /api/v1/wait` long-poll.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { field, type SinkContext, stringList } from './context.ts';
import { fullMessage, mailpitHeaders, messagesSummary } from './mailpit-json.ts';
import { isMessageId } from './message-id.ts';
import { findPart } from './part.ts';
import { releaseMessage } from './release.ts';
import { compileSearch } from './search.ts';
import type { StoredMessage } from './store.ts';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string> }>;

function text(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type('text/plain; charset=utf-8').send(body);
}

function int(value: string | undefined, fallback: number): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

export function resolveMessage(ctx: SinkContext, id: string, query?: string): StoredMessage | null {
  if (id === 'latest') {
    const filter = query ? compileSearch(query) : null;
    return ctx.store.latest(filter ?? undefined);
  }
  return isMessageId(id) ? ctx.store.get(id) : null;
}

function notFound(reply: FastifyReply, id: string) {
  return text(reply, 404, id === 'latest' ? 'Message not found' : '404 page not found');
}

/** The HTML of a message made safe to show: cid: links point at the parts, links open outside. */
export function safeHtml(
  html: string,
  id: string,
  inline: readonly { ContentID: string; PartID: string }[],
): string {
  let out = html;
  for (const part of inline) {
    if (!part.ContentID) continue;
    out = out.split(`cid:${part.ContentID}`).join(`/api/v1/message/${id}/part/${part.PartID}`);
  }
  const base = '<base target="_blank">';
  return /<head[^>]*>/i.test(out) ? out.replace(/<head[^>]*>/i, (m) => `${m}${base}`) : `${base}${out}`;
}

export function htmlPolicy(selfOrigin: string, remote: boolean): string {
  const images = remote ? 'http: https: data:' : `${selfOrigin} data:`;
  return [
    "default-src 'none'",
    `img-src ${images}`,
    `style-src 'unsafe-inline' ${remote ? 'http: https:' : ''}`.trim(),
    `font-src data: ${remote ? 'http: https:' : ''}`.trim(),
    "script-src 'none'",
    "form-action 'none'",
    "frame-ancestors 'self'",
    'sandbox allow-popups allow-popups-to-escape-sandbox',
  ].join('; ');
}

export function registerMailpit(app: FastifyInstance, ctx: SinkContext): void {
  const { store } = ctx;

  app.get('/api/v1/messages', async (req: Req) => {
    await store.idle();
    const start = int(req.query.start, 0);
    const limit = int(req.query.limit, 50);
    const before = req.query.before ? Date.parse(req.query.before) : Number.NaN;
    const messages = store.list({ start, limit, ...(Number.isNaN(before) ? {} : { beforeMs: before }) });
    return messagesSummary(store, messages, start);
  });

  app.put('/api/v1/messages', async (req: Req, reply) => {
    await store.idle();
    const ids = field(req.body, 'IDs');
    const search = field(req.body, 'Search');
    const read = field(req.body, 'Read') === true;
    if (Array.isArray(ids) && ids.length > 0 && typeof search === 'string' && search) {
      return text(reply, 400, 'You cannot use both IDs and Search');
    }
    let targets: string[];
    if (Array.isArray(ids) && ids.length > 0) targets = stringList(ids);
    else if (typeof search === 'string' && search) targets = store.ids(compileSearch(search) ?? undefined);
    else targets = store.ids();
    store.setRead(targets, read);
    return text(reply, 200, 'ok');
  });

  app.delete('/api/v1/messages', async (req: Req, reply) => {
    const ids = stringList(field(req.body, 'IDs'));
    if (ids.length > 0) store.delete(ids);
    else store.deleteAll();
    // mailhog npm JSON.parses any non-empty body and sends no Accept header; Mailpit clients do.
    return text(reply, 200, req.headers.accept ? 'ok' : '');
  });

  app.get('/api/v1/search', async (req: Req, reply) => {
    const query = (req.query.query ?? '').trim();
    if (!query) return text(reply, 400, 'Error: no search query');
    await store.idle();
    const filter = compileSearch(query) ?? undefined;
    const start = int(req.query.start, 0);
    const limit = int(req.query.limit, 50);
    return messagesSummary(
      store,
      store.list({ start, limit, ...(filter ? { filter } : {}) }),
      start,
      store.count(filter),
    );
  });

  app.delete('/api/v1/search', async (req: Req, reply) => {
    const query = (req.query.query ?? '').trim();
    if (!query) return text(reply, 400, 'Error: no search query');
    await store.idle();
    store.delete(store.ids(compileSearch(query) ?? undefined));
    return text(reply, 200, 'ok');
  });

  app.get('/api/v1/wait', async (req: Req, reply) => {
    const query = (req.query.query ?? '').trim();
    const timeoutMs = Math.min(int(req.query.timeout, 30), 300) * 1000;
    const since = req.query.since ? Date.parse(req.query.since) : Number.NaN;
    const find = async () => {
      await store.idle();
      const filter = query ? compileSearch(query) : null;
      const found = store.latest(filter ?? undefined);
      if (found && (Number.isNaN(since) || found.created >= since)) return found;
      return null;
    };
    let found = await find();
    if (!found) {
      found = await new Promise<StoredMessage | null>((resolve) => {
        const timer = setTimeout(() => done(null), timeoutMs);
        const onEvent = (event: { Type: string }) => {
          if (event.Type === 'new') void find().then((m) => m && done(m));
        };
        const done = (m: StoredMessage | null) => {
          clearTimeout(timer);
          store.events.off('event', onEvent);
          req.raw.off('close', onClose);
          resolve(m);
        };
        const onClose = () => done(null);
        store.events.on('event', onEvent);
        req.raw.on('close', onClose);
      });
    }
    if (!found) return text(reply, 408, 'No matching message before the timeout');
    return fullMessage(store, found);
  });

  app.post('/api/v1/send', async (req: Req, reply) => {
    const body = req.body;
    const fromField = field(body, 'From');
    const fromEmail = field(fromField, 'Email');
    if (typeof fromEmail !== 'string' || !fromEmail)
      return reply.code(400).send({ Error: 'From.Email is required' });
    const people = (value: unknown) =>
      (Array.isArray(value) ? value : [])
        .map((p) =>
          typeof p === 'string'
            ? { address: p, name: '' }
            : { address: String(field(p, 'Email') ?? ''), name: String(field(p, 'Name') ?? '') },
        )
        .filter((p) => p.address);
    const to = people(field(body, 'To'));
    const cc = people(field(body, 'Cc'));
    const bcc = people(field(body, 'Bcc'));
    if (to.length + cc.length + bcc.length === 0) return reply.code(400).send({ Error: 'no recipients' });
    const headers: Record<string, string> = {};
    const extra = field(body, 'Headers');
    if (extra && typeof extra === 'object')
      for (const [k, v] of Object.entries(extra)) headers[k] = String(v);
    const attachments = (
      Array.isArray(field(body, 'Attachments')) ? (field(body, 'Attachments') as unknown[]) : []
    ).map((a) => ({
      content: Buffer.from(String(field(a, 'Content') ?? ''), 'base64'),
      filename: String(field(a, 'Filename') ?? field(a, 'FileName') ?? 'attachment'),
      ...(field(a, 'ContentType') ? { contentType: String(field(a, 'ContentType')) } : {}),
      ...(field(a, 'ContentID') ? { cid: String(field(a, 'ContentID')) } : {}),
    }));
    const replyTo = people(field(body, 'ReplyTo'));
    const composer = new MailComposer({
      from: { address: fromEmail, name: String(field(fromField, 'Name') ?? '') },
      to,
      cc,
      ...(replyTo.length > 0 ? { replyTo } : {}),
      subject: String(field(body, 'Subject') ?? ''),
      ...(field(body, 'Text') ? { text: String(field(body, 'Text')) } : {}),
      ...(field(body, 'HTML') ? { html: String(field(body, 'HTML')) } : {}),
      attachments,
      headers,
    });
    const raw = await composer.compile().build();
    const id = store.add(raw, {
      mailFrom: fromEmail,
      rcptTo: [...to, ...cc, ...bcc].map((p) => p.address),
      tags: stringList(field(body, 'Tags')),
      remoteAddress: req.ip,
    });
    return { ID: id };
  });

  app.get('/api/v1/message/:id', async (req: Req, reply) => {
    await store.idle();
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    if (!message.read) store.setRead([message.id], true);
    return fullMessage(store, { ...message, read: true });
  });

  app.get('/api/v1/message/:id/headers', async (req: Req, reply) => {
    await store.idle();
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    return mailpitHeaders(await store.readHeaderBlock(message.id));
  });

  app.get('/api/v1/message/:id/raw', async (req: Req, reply) => {
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    reply.header('content-length', message.size);
    if (req.query.dl) reply.header('content-disposition', `attachment; filename="${message.id}.eml"`);
    return reply.type('text/plain; charset=utf-8').send(store.openRaw(message.id));
  });

  const sendPart = async (req: Req, reply: FastifyReply) => {
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    const part = await findPart(store.openRaw(message.id), req.params.partId!);
    if (!part) return text(reply, 404, 'Attachment not found');
    reply.header('content-type', part.contentType);
    if (part.filename) {
      reply.header(
        'content-disposition',
        `${req.query.dl ? 'attachment' : 'inline'}; filename*=UTF-8''${encodeURIComponent(part.filename)}`,
      );
    }
    // An attachment is shown in the UI's origin only as data, never as an active document.
    reply.header(
      'content-security-policy',
      "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox",
    );
    reply.header('x-content-type-options', 'nosniff');
    return reply.send(part.content);
  };
  app.get('/api/v1/message/:id/part/:partId', sendPart);
  // No image library here: the "thumbnail" is the image itself (browsers scale it).
  app.get('/api/v1/message/:id/part/:partId/thumb', sendPart);

  app.post('/api/v1/message/:id/release', async (req: Req, reply) => {
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    if (!ctx.relay) return text(reply, 400, 'SMTP relay not enabled (start the sink with --relay)');
    const to = stringList(field(req.body, 'To'));
    if (to.length === 0) return text(reply, 400, 'No valid addresses found');
    try {
      await releaseMessage(ctx.relay, { from: message.mailFrom ?? '', to }, store.openRaw(message.id));
    } catch (error) {
      return text(reply, 400, error instanceof Error ? error.message : String(error));
    }
    return text(reply, 200, 'ok');
  });

  app.get('/api/v1/message/:id/html-check', async (req: Req, reply) => {
    await store.idle();
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    return {
      Platforms: {},
      Total: { Nodes: 0, Partial: 0, Supported: 0, Tests: 0, Unsupported: 0 },
      Warnings: [],
    };
  });

  app.get('/api/v1/message/:id/link-check', async (req: Req, reply) => {
    await store.idle();
    const message = resolveMessage(ctx, req.params.id!, req.query.query);
    if (!message) return notFound(reply, req.params.id!);
    const links = store.detail(message.id).parsed?.links ?? [];
    const follow = req.query.follow === 'true';
    const results = await Promise.all(
      links.slice(0, 50).map(async (url) => {
        try {
          const response = await fetch(url, {
            method: 'HEAD',
            redirect: follow ? 'follow' : 'manual',
            signal: AbortSignal.timeout(5000),
          });
          return { URL: url, StatusCode: response.status, Status: response.statusText };
        } catch (error) {
          return { URL: url, StatusCode: 0, Status: error instanceof Error ? error.message : 'error' };
        }
      }),
    );
    return {
      Errors: results.filter((r) => r.StatusCode === 0 || r.StatusCode >= 400).length,
      Links: results,
    };
  });

  // sa-check is not registered: Mailpit answers 404 when SpamAssassin is off, and so do we.

  app.get('/api/v1/tags', async () => [...store.allTags().keys()]);

  app.put('/api/v1/tags', async (req: Req, reply) => {
    const ids = stringList(field(req.body, 'IDs'));
    const tags = stringList(field(req.body, 'Tags'));
    for (const id of ids) if (store.get(id)) store.setTags(id, tags);
    return text(reply, 200, 'ok');
  });

  app.put('/api/v1/tags/:tag', async (req: Req, reply) => {
    const name = String(field(req.body, 'Name') ?? '').trim();
    if (!name) return text(reply, 400, 'Tag name cannot be empty');
    const old = req.params.tag!;
    for (const id of store.ids(compileSearch(`tag:"${old}"`) ?? undefined)) {
      const message = store.get(id);
      if (message)
        store.setTags(
          id,
          message.tags.map((t) => (t.toLowerCase() === old.toLowerCase() ? name : t)),
        );
    }
    return text(reply, 200, 'ok');
  });

  app.delete('/api/v1/tags/:tag', async (req: Req, reply) => {
    const old = req.params.tag!;
    for (const id of store.ids(compileSearch(`tag:"${old}"`) ?? undefined)) {
      const message = store.get(id);
      if (message)
        store.setTags(
          id,
          message.tags.filter((t) => t.toLowerCase() !== old.toLowerCase()),
        );
    }
    return text(reply, 200, 'ok');
  });

  app.get('/api/v1/chaos', async () => ctx.chaos.triggers);
  app.put('/api/v1/chaos', async (req: Req, reply) => {
    const input: Record<string, unknown> = {};
    for (const stage of ['Sender', 'Recipient', 'Authentication', 'Data']) {
      const value = field(req.body, stage);
      if (value && typeof value === 'object') {
        input[stage] = {
          ErrorCode: field(value, 'ErrorCode'),
          Probability: field(value, 'Probability'),
          Match: field(value, 'Match'),
        };
      }
    }
    try {
      ctx.chaos.set(input);
    } catch (error) {
      return text(reply, 400, error instanceof Error ? error.message : String(error));
    }
    return ctx.chaos.triggers;
  });

  app.get('/api/v1/info', async () => {
    const { total, unread } = store.count();
    return {
      Version: ctx.version,
      LatestVersion: '',
      Database: store.path,
      DatabaseSize: store.databaseSize(),
      Messages: total,
      Unread: unread,
      Tags: Object.fromEntries(store.allTags()),
      RuntimeStats: {
        Uptime: Math.floor((Date.now() - ctx.startedAt) / 1000),
        Memory: process.memoryUsage().rss,
        MessagesDeleted: store.stats.deleted,
        SMTPAccepted: store.stats.accepted,
        SMTPAcceptedSize: store.stats.acceptedSize,
        SMTPRejected: store.stats.rejected,
        SMTPIgnored: 0,
      },
    };
  });

  app.get('/api/v1/webui', async () => ({
    Label: ctx.label,
    MessageRelay: {
      Enabled: ctx.relay !== null,
      SMTPServer: ctx.relay ? `${ctx.relay.host}:${ctx.relay.port}` : '',
      ReturnPath: '',
      AllowedRecipients: '',
      BlockedRecipients: '',
      OverrideFrom: '',
      PreserveMessageIDs: true,
    },
    SpamAssassin: false,
    ChaosEnabled: true,
    DuplicatesIgnored: false,
    HideDeleteAllButton: false,
  }));

  app.get('/view/:file', async (req: Req, reply) => {
    const match = /^(.+)\.(html|txt)$/.exec(req.params.file!);
    if (!match) {
      if (req.params.file === 'latest') return reply.redirect('/', 302);
      return text(reply, 404, '404 page not found');
    }
    await store.idle();
    const message = resolveMessage(ctx, match[1]!, req.query.query);
    if (!message) return notFound(reply, match[1]!);
    if (!message.read) store.setRead([message.id], true);
    const parsed = store.detail(message.id).parsed;
    if (match[2] === 'txt') return text(reply, 200, parsed?.text ?? '');
    if (!parsed?.html) return text(reply, 404, 'This message does not contain a HTML part');
    const origin = `${req.protocol}://${req.headers.host ?? 'localhost'}`;
    reply.header('content-security-policy', htmlPolicy(origin, req.query.remote === '1'));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return reply.type('text/html; charset=utf-8').send(safeHtml(parsed.html, message.id, parsed.inline));
  });
}
