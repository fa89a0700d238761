// Message injection on the admin listener (an AdminRoute of @mailyard/service, behind its bearer
// token): POST /api/messages?from=&to=&to= with the raw message as the body goes through the
// accept pipeline like a message after DATA, and answers 200 {queueId} only after the queue
// committed it (DESIGN.md's invariant). Refusals answer 422 (5xx) or 503 (4xx) with the SMTP reply.

import { type AdminRoute, type Logger, sendJson } from '@mailyard/service';
import { type Envelope, parseAddress, SmtpError } from '@mailyard/smtp';
import type { AcceptPipeline } from './accept-pipeline.ts';

export function createInjectRoute(pipeline: AcceptPipeline, logger: Logger): AdminRoute {
  return async (req, res, url) => {
    if (req.method !== 'POST' || url.pathname !== '/api/messages') return false;
    let envelope: Envelope;
    try {
      const from = url.searchParams.get('from') ?? '';
      const to = url.searchParams.getAll('to');
      if (to.length === 0) return sendJson(res, 400, { error: 'at least one to= recipient is needed' });
      envelope = {
        mailFrom: from === '' ? null : parseAddress(from),
        rcptTo: to.map((t) => ({ address: parseAddress(t) })),
        params: {},
      };
    } catch (error) {
      return sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
    }
    try {
      // The body streams into the queue, which refuses more than its maxMessageSize (552).
      const accepted = await pipeline.accept({ envelope, message: req, clientIp: null, authUser: null });
      return sendJson(res, 200, accepted);
    } catch (error) {
      const smtp = SmtpError.from(error);
      if (smtp.code === 451) logger.error({ err: error }, 'injection failed');
      return sendJson(res, smtp.temporary ? 503 : 422, {
        error: smtp.reply,
        code: smtp.code,
        enhanced: smtp.enhanced,
      });
    }
  };
}
