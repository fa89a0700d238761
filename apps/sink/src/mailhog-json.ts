// MailHog's message JSON (mailhog/data/message.go as the server really ships it, not its
// swagger): envelope paths split into Mailbox/Domain, Content{Headers,Body,Size,MIME},
// MIME{Parts} for multipart bodies (split on the boundary, as MailHog does), Raw{From,To,Data,Helo}.

import type { StoredMessage } from './store.ts';

interface Path {
  Relays: null;
  Mailbox: string;
  Domain: string;
  Params: string;
}

export interface MailHogContent {
  Headers: Record<string, string[]>;
  Body: string;
  Size: number;
  MIME: { Parts: MailHogContent[] } | null;
}

function path(address: string): Path {
  const at = address.lastIndexOf('@');
  return {
    Relays: null,
    Mailbox: at >= 0 ? address.slice(0, at) : address,
    Domain: at >= 0 ? address.slice(at + 1) : '',
    Params: '',
  };
}

/** MailHog's header parsing: original case, a repeated name overwrites, folds keep their whitespace. */
function parseContent(text: string, depth: number): MailHogContent {
  const split = /\r?\n\r?\n/.exec(text);
  const head = split ? text.slice(0, split.index) : text;
  const body = split ? text.slice(split.index + split[0].length) : '';
  const headers: Record<string, string[]> = {};
  let last = '';
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) {
      const values = headers[last]!;
      values[values.length - 1] += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    headers[last] = [line.slice(colon + 1).trim()];
  }
  const content: MailHogContent = { Headers: headers, Body: body, Size: Buffer.byteLength(body), MIME: null };
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1][0] ?? '';
  if (depth < 8 && /^multipart\//i.test(type)) {
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    if (boundary) content.MIME = { Parts: splitParts(body, boundary, depth + 1) };
  }
  return content;
}

function splitParts(body: string, boundary: string, depth: number): MailHogContent[] {
  return body
    .split(`--${boundary}`)
    .map((piece) => piece.replace(/^[\r\n]+|[\r\n]+$/g, ''))
    .filter((piece) => piece.length > 0)
    .map((piece) => parseContent(piece.startsWith('--') && piece.trim() === '--' ? '' : piece, depth));
}

function localTime(ms: number): string {
  const date = new Date(ms);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  const local = new Date(ms + offset * 60_000).toISOString().replace('Z', '');
  return `${local}000000${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function mailhogMessage(message: StoredMessage, raw: Buffer) {
  const data = raw.toString('utf8');
  const content = parseContent(data, 0);
  const mime = content.MIME;
  content.MIME = null;
  return {
    ID: message.id,
    From: message.mailFrom === null ? null : path(message.mailFrom),
    To: message.rcptTo.map(path),
    Content: content,
    Created: localTime(message.created),
    MIME: mime,
    Raw: { From: message.mailFrom ?? '', To: message.rcptTo, Data: data, Helo: message.helo },
  };
}
