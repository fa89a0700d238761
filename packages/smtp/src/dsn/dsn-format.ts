// Line-level formatting shared by the DSN builder: RFC 5322 §3.3 dates, §2.2.3 header folding
// (lines ≤ 998 octets, folded at 78 where whitespace allows, §2.1.1), CRLF-only line endings
// (RFC 5321 §2.3.8: a bare CR or LF must never leave us), and word-wrapping of plain text.

const CRLF = '\r\n';
const SOFT_LIMIT = 78;
const HARD_LIMIT = 998;

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** RFC 5322 date-time in UTC: `Sun, 29 Nov 2026 10:18:57 +0000` (never the obsolete `GMT`). */
export function formatDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

/**
 * Makes text safe for one header field value: line breaks and tabs become spaces (a remote
 * reply may span lines), other control characters are dropped, runs of whitespace collapse.
 */
export function cleanFieldText(text: string): string {
  return text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim();
}

/** Splits a word into pieces of at most `max` UTF-8 octets without cutting a character. */
function splitOctets(word: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let size = 0;
  for (const char of word) {
    const octets = Buffer.byteLength(char);
    if (size + octets > max && piece) {
      pieces.push(piece);
      piece = '';
      size = 0;
    }
    piece += char;
    size += octets;
  }
  if (piece) pieces.push(piece);
  return pieces;
}

/**
 * One header field, folded: `Name: value` with CRLF + space before a word whenever the line
 * would pass 78 octets, and each line kept under 998 octets even when a single word is longer
 * (that word is then cut, the only way to stay legal). Returns the field without a final CRLF.
 */
export function foldField(name: string, value: string): string {
  const words = cleanFieldText(value).split(' ').filter(Boolean);
  const lines: string[] = [];
  let line = `${name}:`;
  let hasWord = false;
  for (const word of words) {
    for (const piece of splitOctets(word, HARD_LIMIT - 2)) {
      const candidate = `${line} ${piece}`;
      if (!hasWord || Buffer.byteLength(candidate) <= SOFT_LIMIT) {
        if (Buffer.byteLength(candidate) <= HARD_LIMIT) {
          line = candidate;
          hasWord = true;
          continue;
        }
      }
      lines.push(line);
      line = ` ${piece}`;
      hasWord = true;
    }
  }
  lines.push(line);
  return lines.join(CRLF);
}

/** Word-wraps plain text at `width` columns; paragraphs keep their line breaks. Lines end in CRLF. */
export function wrapText(text: string, width = 76): string {
  const out: string[] = [];
  for (const source of text.split(/\r\n|\r|\n/)) {
    let line = '';
    for (const word of source.split(' ')) {
      for (const piece of splitOctets(word, HARD_LIMIT - 2)) {
        if (line && Buffer.byteLength(`${line} ${piece}`) > width) {
          out.push(line);
          line = piece;
        } else {
          line = line ? `${line} ${piece}` : piece;
        }
      }
    }
    out.push(line);
  }
  return out.map((line) => `${line}${CRLF}`).join('');
}

/** Rewrites every CR, LF and CRLF as CRLF, byte for byte otherwise. */
export function toCrlf(data: Buffer): Buffer {
  return Buffer.from(data.toString('latin1').replace(/\r\n|\r|\n/g, CRLF), 'latin1');
}

/** True when some line (CRLF-separated) is longer than 998 octets. */
export function hasOverlongLine(data: Buffer): boolean {
  let start = 0;
  for (;;) {
    const end = data.indexOf(CRLF, start);
    const length = (end < 0 ? data.length : end) - start;
    if (length > HARD_LIMIT) return true;
    if (end < 0) return false;
    start = end + 2;
  }
}

/** True when the data holds octets outside US-ASCII. */
export function isEightBit(data: Buffer | string): boolean {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return bytes.some((byte) => byte > 0x7f);
}
