// Wildcard patterns for recipients and senders: `*` stands for any run of characters (possibly
// empty) and captures it as `$1`, `$2`, … in order. The local part and the domain are matched
// separately, so a `*` never spans the `@`. Matching is a left-to-right scan over literal
// segments: linear in the input for a fixed pattern, with no backtracking to exploit.

export interface Glob {
  /** Literal text between the stars; `segments.length - 1` is the number of stars. */
  readonly segments: readonly string[];
}

export function compileGlob(text: string): Glob {
  return { segments: text.toLowerCase().split('*') };
}

export function starCount(glob: Glob): number {
  return glob.segments.length - 1;
}

/**
 * Matches `input` (already lower-case) and appends one capture per star to `captures`.
 * Each star but the last takes as little as it can; the last takes the rest.
 */
export function matchGlob(glob: Glob, input: string, captures: string[], original?: string): boolean {
  const { segments } = glob;
  const first = segments[0] ?? '';
  if (segments.length === 1) return input === first;
  const last = segments[segments.length - 1] ?? '';
  if (input.length < first.length + last.length) return false;
  if (!input.startsWith(first) || !input.endsWith(last)) return false;
  const end = input.length - last.length;
  // Captures keep the case as written when lower-casing kept every offset (nearly always).
  const source = original !== undefined && original.length === input.length ? original : input;
  let position = first.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const segment = segments[i] ?? '';
    const found = input.indexOf(segment, position);
    if (found < 0 || found + segment.length > end) return false;
    captures.push(source.slice(position, found));
    position = found + segment.length;
  }
  captures.push(source.slice(position, end));
  return true;
}

/**
 * True when every string `inner` matches is also matched by `outer`. Sound for star-only globs:
 * `outer` must match `inner`'s own text with each of its stars read as a literal character, which
 * only an `outer` star can absorb (the literal segments hold no star).
 */
export function globCovers(outer: Glob, inner: Glob): boolean {
  return matchGlob(outer, inner.segments.join('*'), []);
}
