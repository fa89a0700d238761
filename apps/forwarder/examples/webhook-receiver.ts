// A receiver for the forwarder's webhooks: checks the Mailyard-Signature header (HMAC-SHA256 of
// "<t>.<body>" with the shared secret) and its age before trusting the JSON body.
// Run it:   pnpm exec node --conditions=source apps/forwarder/examples/webhook-receiver.ts
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

export interface ForwardedMail {
  readonly mailFrom: string | null;
  readonly rcptTo: string[];
  readonly subject: string | null;
  readonly raw: string;
  readonly rawEncoding: 'utf8' | 'base64';
}

const TOLERANCE_S = 300; // refuse replays of requests older than five minutes

export function signatureValid(header: string, body: string, secret: string, now = Date.now()): boolean {
  const fields = new Map(header.split(',').map((part) => part.split('=', 2) as [string, string]));
  const time = Number(fields.get('t'));
  const given = Buffer.from(fields.get('v1') ?? '', 'hex');
  const expected = createHmac('sha256', secret).update(`${time}.${body}`).digest();
  const fresh = Math.abs(now / 1000 - time) <= TOLERANCE_S;
  return fresh && given.length === expected.length && timingSafeEqual(given, expected);
}

export function startWebhookReceiver(
  secret: string,
  onMail: (mail: ForwardedMail) => void,
  port = 8080,
): Promise<Server> {
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (!signatureValid(String(req.headers['mailyard-signature'] ?? ''), body, secret)) {
      res.writeHead(401).end(); // a 4xx other than 400/404/410/413/422 makes the forwarder retry
      return;
    }
    onMail(JSON.parse(body) as ForwardedMail);
    res.writeHead(204).end();
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (import.meta.main) {
  await startWebhookReceiver(process.env.WEBHOOK_SECRET ?? 'a-long-shared-secret', (mail) =>
    console.log(`mail from ${mail.mailFrom} to ${mail.rcptTo.join(', ')}: ${mail.subject}`),
  );
}
