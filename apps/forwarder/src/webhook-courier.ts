// Webhook delivery: a rule's `webhook: name` sends the message to an HTTP endpoint instead of a
// mailbox, through the queue like any delivery (retries, a DSN when the endpoint refuses for good).
// One POST per message and endpoint: a JSON body with a parsed summary and the raw message, signed
// as Stripe and GitHub sign theirs — `Mailyard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">` — so the receiver can check both origin and freshness (replays carry an old t).
// 2xx is delivered; 400, 404, 410, 413 and 422 are permanent (the endpoint will not take this
// message); anything else, a timeout or a refused connection is a deferral.

import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  type Courier,
  type DeliveryRequest,
  formatAddress,
  type HeaderField,
  type Outcome,
  parseHeaderFields,
  SmtpError,
} from '@mailyard/smtp';

/** Next hops of webhook recipients: `webhook:<name>` (a domain never contains `:`). */
export const WEBHOOK_PREFIX = 'webhook:';
export const SIGNATURE_HEADER = 'mailyard-signature';

export interface WebhookEndpoint {
  readonly url: string;
  /** The HMAC key; the receiver holds the same. */
  readonly secret: string;
  readonly timeoutMs: number;
}

export interface WebhookCourierOptions {
  readonly endpoints: ReadonlyMap<string, WebhookEndpoint>;
  /** The envelope sender to report: the forwarder stores SRS addresses, the receiver wants the original. */
  readonly originalSender?: (mailFrom: string | null) => string | null;
  readonly now?: () => Date;
}

export interface WebhookPayload {
  readonly queueId: string;
  readonly mailFrom: string | null;
  readonly rcptTo: readonly string[];
  readonly size: number;
  /** Header fields in order, unfolded. */
  readonly headers: readonly HeaderField[];
  readonly subject: string | null;
  readonly from: string | null;
  readonly messageId: string | null;
  /** The message as received (headers and body), as UTF-8 when it is valid UTF-8, else base64. */
  readonly raw: string;
  readonly rawEncoding: 'utf8' | 'base64';
}

const PERMANENT = new Set([400, 404, 410, 413, 422]);

/** `t=...,v1=...` for a body sent at `time` (unix seconds). */
export function signWebhook(secret: string, time: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${time}.${body}`).digest('hex');
  return `t=${time},v1=${mac}`;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function field(fields: readonly HeaderField[], name: string): string | null {
  return fields.find((f) => f.name.toLowerCase() === name)?.value ?? null;
}

export function webhookPayload(
  request: DeliveryRequest,
  raw: Buffer,
  mailFrom: string | null,
): WebhookPayload {
  const headers = parseHeaderFields(raw);
  const utf8 = raw.toString('utf8');
  const valid = Buffer.byteLength(utf8) === raw.length && !utf8.includes('\uFFFD');
  return {
    queueId: request.queueId,
    mailFrom,
    rcptTo: request.envelope.rcptTo.map((r) => formatAddress(r.address)),
    size: raw.length,
    headers,
    subject: field(headers, 'subject'),
    from: field(headers, 'from'),
    messageId: field(headers, 'message-id'),
    raw: valid ? utf8 : raw.toString('base64'),
    rawEncoding: valid ? 'utf8' : 'base64',
  };
}

function outcomes(request: DeliveryRequest, result: SmtpError | string): Outcome[] {
  return request.envelope.rcptTo.map((r) => {
    const rcpt = formatAddress(r.address);
    if (typeof result === 'string') return { rcpt, status: 'delivered', reply: result };
    return { rcpt, status: result.temporary ? 'deferred' : 'bounced', error: result };
  });
}

async function post(
  endpoint: WebhookEndpoint,
  body: string,
  time: number,
  signal: AbortSignal,
): Promise<SmtpError | string> {
  try {
    const response = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signWebhook(endpoint.secret, time, body),
      },
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(endpoint.timeoutMs)]),
    });
    await response.body?.cancel();
    const status = `webhook answered HTTP ${response.status}`;
    if (response.ok) return `250 2.0.0 ${status}`;
    return PERMANENT.has(response.status)
      ? new SmtpError(550, '5.0.0', status)
      : new SmtpError(451, '4.4.0', status);
  } catch (error) {
    return new SmtpError(451, '4.4.1', `webhook not reached: ${(error as Error).message}`);
  }
}

export function createWebhookCourier(options: WebhookCourierOptions): Courier {
  const now = options.now ?? (() => new Date());
  return {
    async deliver(request, signal) {
      const name = request.nextHop.slice(WEBHOOK_PREFIX.length);
      const endpoint = options.endpoints.get(name);
      if (!endpoint) return outcomes(request, new SmtpError(451, '4.3.5', `no webhook named ${name}`));
      const raw = await readAll(request.openMessage());
      const mailFrom = request.envelope.mailFrom ? formatAddress(request.envelope.mailFrom) : null;
      const payload = webhookPayload(request, raw, options.originalSender?.(mailFrom) ?? mailFrom);
      const time = Math.floor(now().getTime() / 1000);
      return outcomes(request, await post(endpoint, JSON.stringify(payload), time, signal));
    },
  };
}

/** Routes each batch to the courier of its next hop's kind. */
export function createRoutingCourier(smtp: Courier, webhooks: Courier): Courier {
  return {
    deliver: (request, signal) =>
      (request.nextHop.startsWith(WEBHOOK_PREFIX) ? webhooks : smtp).deliver(request, signal),
  };
}
