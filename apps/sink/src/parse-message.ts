// Parses one stored message (RFC 5322 + MIME, RFC 2045-2049) into what the APIs and the UI
// show: addresses, subject, text/HTML bodies, attachment metadata with checksums, snippet,
// search text, links and one-time codes. Streams: attachments are hashed and dropped, never
// held in memory, so a 50 MB message costs little more than its text parts.

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createByteMeter } from '@mailyard/smtp';
import { type AddressObject, type AttachmentStream, type HeaderValue, MailParser } from 'mailparser';
import { extractLinksAndCodes } from './links.ts';

export interface MailAddress {
  readonly Name: string;
  readonly Address: string;
}

export interface AttachmentInfo {
  readonly PartID: string;
  readonly FileName: string;
  readonly ContentType: string;
  readonly ContentID: string;
  readonly Size: number;
  readonly Checksums: { readonly MD5: string; readonly SHA1: string; readonly SHA256: string };
}

export interface ParsedMessage {
  readonly subject: string;
  readonly messageId: string;
  readonly from: MailAddress | null;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[] | null;
  readonly bcc: readonly MailAddress[] | null;
  readonly replyTo: readonly MailAddress[];
  readonly returnPath: string;
  /** The Date header in ms since the epoch, or null when absent or unparsable. */
  readonly date: number | null;
  readonly text: string;
  readonly html: string;
  readonly attachments: readonly AttachmentInfo[];
  readonly inline: readonly AttachmentInfo[];
  readonly listUnsubscribe: {
    readonly Header: string;
    readonly Links: readonly string[];
    readonly Errors: string;
    readonly HeaderPost: string;
  };
  readonly snippet: string;
  readonly searchText: string;
  readonly links: readonly string[];
  readonly codes: readonly string[];
}

function flatten(value: HeaderValue | undefined): MailAddress[] {
  if (!value || typeof value !== 'object' || value instanceof Date) return [];
  const objects = (Array.isArray(value) ? value : [value]) as AddressObject[];
  const out: MailAddress[] = [];
  const walk = (list: AddressObject['value']) => {
    for (const entry of list ?? []) {
      if (entry.group) walk(entry.group);
      else out.push({ Name: entry.name ?? '', Address: entry.address ?? '' });
    }
  };
  for (const object of objects) if (object && Array.isArray(object.value)) walk(object.value);
  return out;
}

function headerText(value: HeaderValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return headerText(value[0] as HeaderValue);
  if (value instanceof Date) return value.toISOString();
  if ('text' in value && typeof value.text === 'string') return value.text;
  if ('value' in value && typeof value.value === 'string') return value.value;
  return '';
}

export function stripHtml(html: string): string {
  return html
    .replace(/<(style|script|head)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;/gi, "'");
}

/** Mailpit's snippet: HTML without tags (or the text), whitespace collapsed, at most 200 bytes. */
export function makeSnippet(text: string, html: string): string {
  return snippetOf(html ? stripHtml(html.slice(0, 100_000)) : text);
}

/** The snippet of text that has no tags. Reads only as far as 200 bytes of it need. */
function snippetOf(plain: string): string {
  let source = '';
  // Collapsing a prefix gives the same first 200 bytes as collapsing the whole, once the
  // prefix has more than 200 bytes without its trailing space.
  for (let end = 1024; ; end *= 8) {
    const last = end >= plain.length || end >= 100_000;
    source = plain.slice(0, Math.min(end, 100_000)).replace(/\s+/g, ' ').trimStart();
    if (last) {
      source = source.trimEnd();
      break;
    }
    if (Buffer.byteLength(source.trimEnd()) > 200) break;
  }
  if (Buffer.byteLength(source) <= 200) return source;
  // The first 200 bytes lie within the first 200 characters.
  const bytes = Buffer.from(source.slice(0, 200));
  // Cut on a character boundary: drop a partial UTF-8 sequence at the end.
  return `${bytes
    .subarray(0, 200)
    .toString('utf8')
    .replace(/\uFFFD+$/, '')}…`;
}

/** Mailpit's cleanString: lowercase, and `<>",;()` and newlines become spaces. */
export function cleanString(text: string): string {
  // One pass: the characters become spaces and every run of spaces collapses to one.
  return text
    .toLowerCase()
    .replace(/[\s<>",;()]+/g, ' ')
    .trim();
}

function formatList(list: readonly MailAddress[] | null): string {
  return (list ?? []).map((a) => `${a.Name} ${a.Address}`).join(' ');
}

async function drainAttachment(attachment: AttachmentStream): Promise<AttachmentInfo> {
  const md5 = createHash('md5');
  const sha1 = createHash('sha1');
  const sha256 = createHash('sha256');
  let size = 0;
  const meter = createByteMeter(); // decoded chunks are garbage at once: collected as they pass
  try {
    for await (const chunk of attachment.content as AsyncIterable<Buffer>) {
      meter.add(chunk.length);
      md5.update(chunk);
      sha1.update(chunk);
      sha256.update(chunk);
      size += chunk.length;
    }
  } finally {
    attachment.release?.();
  }
  return {
    PartID: attachment.partId ?? '',
    FileName: attachment.filename ?? '',
    ContentType: attachment.contentType ?? 'application/octet-stream',
    ContentID: (attachment.contentId ?? '').replace(/^<|>$/g, ''),
    Size: size,
    Checksums: { MD5: md5.digest('hex'), SHA1: sha1.digest('hex'), SHA256: sha256.digest('hex') },
  };
}

function isInline(attachment: AttachmentStream): boolean {
  return Boolean(attachment.related || (attachment.contentDisposition === 'inline' && attachment.contentId));
}

export async function parseMessage(source: Readable): Promise<ParsedMessage> {
  const parser = new MailParser({
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    checksumAlgo: false,
    maxHtmlLengthToParse: 2_000_000,
  });
  let headers = new Map<string, HeaderValue>();
  let text = '';
  let html = '';
  const attachments: AttachmentInfo[] = [];
  const inline: AttachmentInfo[] = [];
  const pending: Promise<void>[] = [];
  const done = new Promise<void>((resolve, reject) => {
    parser.on('headers', (h: Map<string, HeaderValue>) => {
      headers = h;
    });
    parser.on('data', (data: { type: string } & Record<string, unknown>) => {
      if (data.type === 'attachment') {
        const attachment = data as unknown as AttachmentStream;
        const target = isInline(attachment) ? inline : attachments;
        pending.push(drainAttachment(attachment).then((info) => void target.push(info)));
      } else if (data.type === 'text') {
        if (typeof data.text === 'string') text = data.text;
        if (typeof data.html === 'string') html = data.html;
      }
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    source.on('error', reject);
  });
  source.pipe(parser);
  await done;
  await Promise.all(pending);
  const byPart = (a: AttachmentInfo, b: AttachmentInfo) =>
    a.PartID.localeCompare(b.PartID, 'en', { numeric: true });
  attachments.sort(byPart);
  inline.sort(byPart);

  const from = flatten(headers.get('from'))[0] ?? null;
  const to = flatten(headers.get('to'));
  const cc = headers.has('cc') ? flatten(headers.get('cc')) : null;
  const bcc = headers.has('bcc') ? flatten(headers.get('bcc')) : null;
  const replyTo = flatten(headers.get('reply-to'));
  const returnPathValue = headers.get('return-path');
  const returnPath = (flatten(returnPathValue)[0]?.Address ?? headerText(returnPathValue)).replace(
    /^<|>$/g,
    '',
  );
  const subject = headerText(headers.get('subject'));
  const messageId = headerText(headers.get('message-id')).trim().replace(/^<|>$/g, '');
  const dateValue = headers.get('date');
  const date = dateValue instanceof Date && !Number.isNaN(dateValue.getTime()) ? dateValue.getTime() : null;
  const unsubscribe = rawHeader(parser, 'list-unsubscribe');
  const { links, codes } = extractLinksAndCodes(text, html);
  const body = html ? stripHtml(html.slice(0, 1_000_000)) : text.slice(0, 1_000_000);
  // The snippet comes from the same text without tags: HTML is stripped once, not twice.
  const searchText = cleanString(
    [
      from ? `${from.Name} ${from.Address}` : '',
      subject,
      formatList(to),
      formatList(cc),
      formatList(bcc),
      formatList(replyTo),
      returnPath,
      body,
      ...attachments.map((a) => a.FileName),
    ].join(' '),
  );
  return {
    subject,
    messageId,
    from,
    to,
    cc,
    bcc,
    replyTo,
    returnPath,
    date,
    text,
    html,
    attachments,
    inline,
    listUnsubscribe: {
      Header: unsubscribe,
      Links: [...unsubscribe.matchAll(/<([^>]+)>/g)].map((m) => m[1] ?? ''),
      Errors: '',
      HeaderPost: rawHeader(parser, 'list-unsubscribe-post'),
    },
    snippet: snippetOf(body),
    searchText,
    links,
    codes,
  };
}

function rawHeader(parser: MailParser, name: string): string {
  const lines = (parser as unknown as { headerLines?: { key: string; line: string }[] }).headerLines ?? [];
  const line = lines.find((l) => l.key === name)?.line ?? '';
  return line.replace(/^[^:]*:\s*/, '').replace(/\r?\n[ \t]+/g, ' ');
}
