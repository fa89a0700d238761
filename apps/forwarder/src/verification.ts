// The two ends of destination verification: the mail carrying the confirmation link, and the
// admin listener's pages behind it. The link opens a page with a button (POST confirms): mail
// scanners that fetch every link must not confirm on the owner's behalf. Confirming releases
// everything held for the destination, so no mail sent before the click is lost.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queue } from '@mailyard/queue';
import { parseAddress } from '@mailyard/smtp';
import type { DestinationStore } from './destinations.ts';
import { UNVERIFIED_REASON } from './forward-pipeline.ts';

export const VERIFY_PATH = '/destinations/verify/';

export interface VerificationMailOptions {
  readonly hostname: string;
  /** Base URL of the admin listener as destinations reach it, e.g. `https://forward.example.org`. */
  readonly publicUrl: string;
  readonly now?: () => Date;
}

/** Queues the confirmation mail, from the null sender (RFC 5321 §4.5.5: an automatic notice). */
export async function sendVerificationMail(
  queue: Queue,
  address: string,
  token: string,
  options: VerificationMailOptions,
): Promise<string> {
  const link = `${options.publicUrl.replace(/\/$/, '')}${VERIFY_PATH}${token}`;
  const date = (options.now?.() ?? new Date()).toUTCString().replace('GMT', '+0000');
  const message = [
    `From: Mailyard forwarder <postmaster@${options.hostname}>`,
    `To: <${address}>`,
    `Subject: Confirm forwarding to ${address}`,
    `Date: ${date}`,
    `Message-ID: <verify.${token.slice(0, 16)}@${options.hostname}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Someone asked ${options.hostname} to forward mail to ${address}.`,
    'Until you confirm, mail for this address is held, not delivered.',
    '',
    `Confirm: ${link}`,
    '',
    'If you did not ask for this, ignore this message: nothing will be forwarded to you.',
    '',
  ].join('\r\n');
  const { queueId } = await queue.enqueue({
    envelope: { mailFrom: null, rcptTo: [{ address: parseAddress(address) }], params: {} },
    message,
    meta: { verification: address },
  });
  return queueId;
}

/** Confirms the token's destination and releases what was held for it; null for an unknown token. */
export async function confirmDestination(
  store: DestinationStore,
  queue: Queue,
  token: string,
): Promise<{ address: string; released: number } | null> {
  const address = await store.confirm(token);
  if (address === null) return null;
  let released = 0;
  for (const message of await queue.list({ state: 'held', rcpt: address, limit: 10_000 })) {
    for (const recipient of message.recipients) {
      const waiting = recipient.lastReply?.includes(UNVERIFIED_REASON) ?? false;
      if (recipient.state === 'held' && waiting && recipient.rcpt.toLowerCase() === address)
        released += await queue.release(message.queueId, recipient.rcpt);
    }
  }
  return { address, released };
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The admin listener's route for `GET|POST /destinations/verify/<token>`; false for other paths. */
export function verificationRoute(store: DestinationStore, queue: Queue) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (!url.pathname.startsWith(VERIFY_PATH)) return false;
    const token = url.pathname.slice(VERIFY_PATH.length);
    if (req.method === 'GET') {
      const address = /^[A-Za-z0-9_-]{16,64}$/.test(token) ? await store.lookup(token) : null;
      if (address === null)
        page(res, 404, 'Unknown or used link', '<p>This confirmation link is not valid.</p>');
      else
        page(
          res,
          200,
          'Confirm forwarding',
          `<p>Forward mail to <b>${escapeHtml(address)}</b>?</p><form method="post"><button type="submit">Confirm</button></form>`,
        );
      return true;
    }
    if (req.method === 'POST') {
      const confirmed = await confirmDestination(store, queue, token);
      if (confirmed === null) page(res, 404, 'Unknown link', '<p>This confirmation link is not valid.</p>');
      else
        page(
          res,
          200,
          'Forwarding confirmed',
          `<p>Mail for <b>${escapeHtml(confirmed.address)}</b> is now delivered (${confirmed.released} held message(s) released).</p>`,
        );
      return true;
    }
    res.writeHead(405, { allow: 'GET, POST' }).end();
    return true;
  };
}
