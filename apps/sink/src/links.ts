// Links and one-time codes found in a message: what a test usually wants from a sign-up or
// password-reset mail, so client code does not have to scrape the body itself.

export interface Extracted {
  readonly links: readonly string[];
  readonly codes: readonly string[];
}

const URL_RE = /\bhttps?:\/\/[^\s<>"'`)\]]+/gi;
// 4-8 digit tokens standing alone (not part of a longer number, a date or a phone number).
const CODE_RE = /(?<![\w\-./:+])\d{4,8}(?![\w\-./:])/g;

function decodeEntities(text: string): string {
  return text
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/gi, '/')
    .replace(/&#47;/g, '/');
}

export function extractLinksAndCodes(text: string, html: string): Extracted {
  const links = new Set<string>();
  for (const source of [decodeEntities(html), text]) {
    for (const match of source.matchAll(URL_RE)) links.add(match[0].replace(/[.,;:!?]+$/, ''));
  }
  const plain = text || html.replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>|<[^>]+>/gi, ' ');
  const codes = new Set<string>();
  for (const match of plain.replace(URL_RE, ' ').matchAll(CODE_RE)) {
    // A year on its own is almost never a code.
    if (/^(19|20)\d\d$/.test(match[0])) continue;
    codes.add(match[0]);
  }
  return { links: [...links].slice(0, 200), codes: [...codes].slice(0, 20) };
}
