// The little MIME a DSN reader needs, written to survive real bounces rather than to be
// complete: RFC 5322 §2.2 header fields (folding, case-insensitive names), RFC 2045 §5
// Content-Type parameters (quoted strings, comments), §6 transfer encodings (base64,
// quoted-printable) and RFC 2046 §5.1 multipart boundaries. Text is handled as a "binary"
// (latin1) string so every octet survives until a value is decoded as UTF-8.

export interface HeaderField {
  /** Lower-case. */
  readonly name: string;
  /** Unfolded, untrimmed of inner whitespace. */
  readonly value: string;
}

export interface MimeEntity {
  readonly fields: readonly HeaderField[];
  /** The header block as it was, through the CRLF that ends its last field. */
  readonly header: string;
  /** Body, still transfer-encoded. */
  readonly body: string;
}

export interface ContentType {
  /** `type/subtype`, lower-case. */
  readonly mediaType: string;
  /** Parameter names lower-case. */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses header fields from a block of lines; continuation lines (leading space/tab) are unfolded. */
export function parseFields(block: string): HeaderField[] {
  const fields: { name: string; value: string }[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      const last = fields.at(-1);
      if (last) last.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    // Lines that are not fields (an mbox "From " line, junk) are skipped, not fatal.
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon).trim())) continue;
    fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) });
  }
  return fields;
}

export function field(fields: readonly HeaderField[], name: string): string | undefined {
  return fields.find((entry) => entry.name === name)?.value;
}

/** Splits headers from body at the first empty line (CRLF or bare LF, as stored mail often has). */
export function parseEntity(raw: string): MimeEntity {
  const blank = /^\r?\n/.exec(raw);
  if (blank) return { fields: [], header: '', body: raw.slice(blank[0].length) };
  const separator = /\r?\n\r?\n/.exec(raw);
  if (!separator) return { fields: parseFields(raw), header: raw, body: '' };
  const headerEnd = separator.index + (raw[separator.index] === '\r' ? 2 : 1);
  return {
    fields: parseFields(raw.slice(0, separator.index)),
    header: raw.slice(0, headerEnd),
    body: raw.slice(separator.index + separator[0].length),
  };
}

/** Removes RFC 5322 comments `( … )`, nested and escaped, outside quoted strings. */
export function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (depth === 0 && ch === '"') {
      quoted = !quoted;
      out += ch;
    } else if (!quoted && ch === '(') depth++;
    else if (!quoted && ch === ')' && depth > 0) depth--;
    else if (depth === 0) out += ch;
  }
  return out;
}

export function parseContentType(value: string | undefined): ContentType {
  if (value === undefined) return { mediaType: 'text/plain', params: {} };
  const text = stripComments(value);
  const semicolon = text.indexOf(';');
  const mediaType = (semicolon < 0 ? text : text.slice(0, semicolon)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g;
  for (const match of text.matchAll(pattern)) {
    const name = match[1]!.toLowerCase();
    if (!(name in params)) params[name] = match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '';
  }
  return { mediaType: mediaType || 'text/plain', params };
}

/** The parts of a multipart body (RFC 2046 §5.1.1); preamble and epilogue are dropped. */
export function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    // Trailing whitespace after a delimiter is transport padding.
    const bare = line.trimEnd();
    if (bare === delimiter || bare === `${delimiter}--`) {
      if (current) parts.push(current.join('\r\n'));
      if (bare !== delimiter) return parts;
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  // No close delimiter (a truncated bounce): keep what arrived.
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/[ \t]+(?=\r?\n|$)/g, '')
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The body with its Content-Transfer-Encoding undone, still a binary string. */
export function decodedBody(entity: MimeEntity): string {
  const encoding = (field(entity.fields, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  if (encoding === 'base64') {
    return Buffer.from(entity.body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64').toString('latin1');
  }
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(entity.body);
  return entity.body;
}

/** A binary string's octets read as UTF-8. */
export function utf8(binary: string): string {
  return Buffer.from(binary, 'latin1').toString('utf8');
}
