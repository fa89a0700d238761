// Mailpit API v1 JSON shapes (server/apiv1, internal/storage/structs.go), field for field, as
// the mailpit-api and cypress-mailpit clients read them.

import type { AttachmentInfo } from './parse-message.ts';
import type { SinkStore, StoredMessage } from './store.ts';

/** Go's RFC3339Nano at millisecond precision: trailing zeros of the fraction are trimmed. */
export function goTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.replace(/\.(\d*?)0*Z$/, (_, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

export function messageSummary(message: StoredMessage) {
  return {
    ID: message.id,
    MessageID: message.messageId,
    Read: message.read,
    From: message.from ?? { Name: '', Address: '' },
    To: message.to,
    Cc: message.cc ?? [],
    Bcc: message.bcc ?? [],
    ReplyTo: message.replyTo,
    Subject: message.subject,
    Created: goTime(message.created),
    Username: message.username,
    Tags: message.tags,
    Size: message.size,
    Attachments: message.attachmentCount,
    Snippet: message.snippet,
  };
}

export function messagesSummary(
  store: SinkStore,
  messages: readonly StoredMessage[],
  start: number,
  matched?: { total: number; unread: number },
) {
  const all = store.count();
  const counts = matched ?? all;
  return {
    total: all.total,
    unread: all.unread,
    count: messages.length,
    messages_count: counts.total,
    messages_unread: counts.unread,
    start,
    tags: [...store.allTags().keys()],
    messages: messages.map(messageSummary),
  };
}

export function fullMessage(store: SinkStore, message: StoredMessage) {
  const { parsed, verdicts } = store.detail(message.id);
  const attachments: readonly AttachmentInfo[] = parsed?.attachments ?? [];
  return {
    ID: message.id,
    MessageID: message.messageId,
    From: message.from ?? { Name: '', Address: '' },
    To: message.to,
    Cc: message.cc ?? [],
    Bcc: message.bcc ?? [],
    ReplyTo: message.replyTo,
    ReturnPath: parsed?.returnPath || message.mailFrom || '',
    Subject: message.subject,
    ListUnsubscribe: parsed?.listUnsubscribe ?? { Header: '', Links: [], Errors: '', HeaderPost: '' },
    Date: goTime(parsed?.date ?? message.created),
    Tags: message.tags,
    Username: message.username,
    Text: parsed?.text ?? '',
    HTML: parsed?.html ?? '',
    Size: message.size,
    Inline: parsed?.inline ?? [],
    Attachments: attachments,
    // Extensions (not in Mailpit): what the sink adds for tests.
    Created: goTime(message.created),
    Read: message.read,
    Envelope: { MailFrom: message.mailFrom, RcptTo: message.rcptTo, Helo: message.helo },
    Links: parsed?.links ?? [],
    Codes: parsed?.codes ?? [],
    Verdicts: verdicts,
    ...(parsed?.parseError ? { ParseError: parsed.parseError } : {}),
  };
}

/** Canonical MIME header key as Go's textproto does it: `message-id` -> `Message-Id`. */
export function canonicalKey(key: string): string {
  return key
    .split('-')
    .map((part) => (part ? part[0]!.toUpperCase() + part.slice(1).toLowerCase() : part))
    .join('-');
}

/** Splits a raw header block into (name, unfolded value) pairs, in order. */
export function parseHeaderBlock(block: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length > 0) {
      const last = out[out.length - 1]!;
      last[1] += ` ${line.trim()}`;
    } else {
      const colon = line.indexOf(':');
      if (colon > 0) out.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    }
  }
  return out;
}

export function mailpitHeaders(block: string): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of parseHeaderBlock(block)) {
    const key = canonicalKey(name);
    const values = headers[key] ?? [];
    values.push(value);
    headers[key] = values;
  }
  return Object.fromEntries(Object.entries(headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
