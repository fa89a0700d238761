// The header fields at the start of a message (RFC 5322 §2.2), unfolded (§2.2.3: a CRLF before
// white space is removed, the white space kept), in order. What checks, header rules and webhook
// summaries read; the body is never looked at.

/** One header field, unfolded, the value without its leading white space. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * The fields of the header at the start of `message` (up to its blank line). When the header is
 * cut short (no blank line in `message`), the complete lines only; a line that is neither a field
 * nor a continuation is skipped. Values are decoded as UTF-8 (RFC 6532).
 */
export function parseHeaderFields(message: Buffer): HeaderField[] {
  const startsBlank = message.length >= 2 && message[0] === 0x0d && message[1] === 0x0a;
  const end = startsBlank ? 0 : message.indexOf(HEADER_END);
  const text = message.subarray(0, end < 0 ? message.length : end).toString('latin1');
  const lines = text.split('\r\n');
  // Without the blank line, the last line may be cut in the middle.
  if (end < 0 && !text.endsWith('\r\n')) lines.pop();
  const fields: { name: string; value: string }[] = [];
  for (const line of lines) {
    const last = fields[fields.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) {
      last.value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    fields.push({ name: line.slice(0, colon).trimEnd(), value: line.slice(colon + 1) });
  }
  return fields.map(({ name, value }) => ({
    name,
    value: Buffer.from(value.trimStart(), 'latin1').toString('utf8'),
  }));
}
