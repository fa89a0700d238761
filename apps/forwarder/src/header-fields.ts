// The header block of a message as `[name, value]` pairs in order, unfolded (RFC 5322 §2.2.3):
// what rules match on (`headers` facts) and what a webhook's JSON summary carries.

/** The header block's fields, unfolded (RFC 5322 §2.2.3). */
export function headerFields(message: Buffer): [string, string][] {
  const end = message.indexOf('\r\n\r\n');
  const head = message.subarray(0, end < 0 ? message.length : end).toString('utf8');
  const fields: [string, string][] = [];
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return fields;
}
