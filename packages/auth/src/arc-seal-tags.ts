// ARC-Seal tag-list checks (RFC 8617 §4.1.3 over RFC 6376 §3.2 tag-list syntax): a tag name is
// ALPHA *(ALPHA / DIGIT / "_") in lower case (tag names are case-sensitive and every ARC tag is
// lower case), no tag appears twice, and no tag-spec is empty (";;"). mailauth's lenient mode
// lets such seals validate; we report the chain as failed, because a seal whose tags can be read
// two ways must not vouch for a message. Unknown well-formed tags are ignored (RFC 6376 §3.2).

const TAG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

interface ParsedHeader {
  readonly key: string;
  readonly line: Buffer | string;
}

/** Describes the first tag-list problem of any ARC-Seal in the headers, or null when all are well-formed. */
export function arcSealTagProblem(headers: readonly ParsedHeader[]): string | null {
  for (const header of headers) {
    if (header.key !== 'arc-seal') continue;
    const line = header.line.toString('binary');
    const specs = line.slice(line.indexOf(':') + 1).split(';');
    const seen = new Set<string>();
    for (const [index, spec] of specs.entries()) {
      if (spec.trim() === '') {
        // Only the optional trailing ";" may leave an empty tag-spec.
        if (index === specs.length - 1) continue;
        return 'ARC-Seal has an empty tag-spec';
      }
      const eq = spec.indexOf('=');
      const name = (eq < 0 ? spec : spec.slice(0, eq)).trim();
      if (eq < 0 || !TAG_NAME.test(name)) return `ARC-Seal has an invalid tag name '${name.slice(0, 20)}'`;
      if (name !== name.toLowerCase()) return `ARC-Seal tag '${name}' is not lower case`;
      if (seen.has(name)) return `ARC-Seal has a duplicate tag '${name}'`;
      seen.add(name);
    }
  }
  return null;
}
