// Regular expressions from a configuration, run on a linear-time engine (re2js, a pure-JS port
// of RE2): matching time grows with the input times the compiled program, never exponentially,
// so patterns such as `(a+)+$` cannot hang the router (catastrophic backtracking needs a
// backtracking engine). Backreferences and lookaround, which need one, are refused with the
// engine's reason. The program size is capped because cost is input length × program size:
// `(.*a){1000}` compiles to ~5,000 instructions and would take a second on a long header.

import { RE2JS } from 're2js';

/** Program-size cap: ~25× the size of `^(.+)@example\.com$`, far above any sane address pattern. */
export const MAX_PROGRAM_SIZE = 500;
/** Source-length cap: a long pattern is a configuration mistake or an attack, not a route. */
export const MAX_SOURCE_LENGTH = 1_000;

export interface SafeRegex {
  readonly source: string;
  readonly groups: number;
  /** Whole-input match (anchored at both ends); appends the groups to `captures`. */
  matchWhole(input: string, captures: string[]): boolean;
  /** Match anywhere in the input. */
  test(input: string): boolean;
}

type Token = { readonly kind: 'literal'; readonly char: string } | { readonly kind: 'quantifier' | 'other' };

const OTHER: Token = { kind: 'other' };
const QUANTIFIER: Token = { kind: 'quantifier' };

/**
 * Splits a regex source into literal characters, quantifiers and everything else, enough to read
 * off the literal text every match must start and end with. Returns null when that cannot be
 * done safely (top-level alternation, `\Q…\E`).
 */
function tokenize(source: string): Token[] | null {
  if (source.includes('\\Q')) return null;
  const tokens: Token[] = [];
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      i++;
      if (/^[-.@+*?()[\]{}|^$\\/]$/.test(next)) tokens.push({ kind: 'literal', char: next });
      else if (/^[dDsSwWbBAz]$/.test(next)) tokens.push(OTHER);
      // Octal, hex, \p classes and the like span more characters: give up rather than misread.
      else return null;
    } else if (c === '[') {
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      i = j;
      tokens.push(OTHER);
    } else if (c === '(' || c === ')') {
      depth += c === '(' ? 1 : -1;
      tokens.push(OTHER);
    } else if (c === '|') {
      if (depth === 0) return null;
      tokens.push(OTHER);
    } else if (c === '*' || c === '+' || c === '?') {
      tokens.push(QUANTIFIER);
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i))) {
      i = source.indexOf('}', i);
      tokens.push(QUANTIFIER);
    } else if (c === '.' || c === '^' || c === '$') {
      tokens.push(OTHER);
    } else {
      tokens.push({ kind: 'literal', char: c });
    }
  }
  return tokens;
}

const ASCII = /^[\x20-\x7e]$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** The literal text a whole-input match must start with and end with (lower-case ASCII). */
export function literalAffixes(source: string): { prefix: string; suffix: string } {
  const tokens = tokenize(source);
  if (!tokens) return { prefix: '', suffix: '' };
  let prefix = '';
  let i = source.startsWith('^') ? 1 : 0;
  for (; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.kind !== 'literal' || !ASCII.test(token.char)) break;
    prefix += token.char;
  }
  // A quantifier after the run makes its last character optional or repeated.
  if (tokens[i]?.kind === 'quantifier') prefix = prefix.slice(0, -1);
  let end = tokens.length;
  if (source.endsWith('$') && !source.endsWith('\\$')) end--;
  let suffix = '';
  for (let j = end - 1; j >= 0; j--) {
    const token = tokens[j] as Token;
    if (token.kind !== 'literal' || !ASCII.test(token.char)) break;
    suffix = token.char + suffix;
  }
  return { prefix: prefix.toLowerCase(), suffix: suffix.toLowerCase() };
}

export function compileSafeRegex(source: string): SafeRegex | string {
  if (source.length > MAX_SOURCE_LENGTH) return `regex is longer than ${MAX_SOURCE_LENGTH} characters`;
  let engine: RE2JS;
  try {
    engine = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    const reason =
      error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : String(error);
    return `regex does not compile: ${reason}`;
  }
  const size = engine.programSize();
  if (size > MAX_PROGRAM_SIZE) {
    return `regex is too expensive to run (program size ${size} > ${MAX_PROGRAM_SIZE}); simplify its repetitions`;
  }
  const groups = engine.groupCount();
  // Literal text every match must start and end with, checked before the engine runs: most
  // recipients are told apart by it, as RE2 itself does with its literal prefix.
  const { prefix, suffix } = literalAffixes(source);
  return {
    source,
    groups,
    matchWhole(input, captures) {
      // Only for ASCII input: Unicode case folding (e.g. U+017F ſ ~ s) is not toLowerCase.
      if ((prefix !== '' || suffix !== '') && !NON_ASCII.test(input)) {
        const lower = input.toLowerCase();
        if (!lower.startsWith(prefix) || !lower.endsWith(suffix)) return false;
      }
      // testExact runs on the DFA without captures; the capturing matcher only runs on a hit.
      if (!engine.testExact(input)) return false;
      if (groups === 0) return true;
      const matcher = engine.matcher(input);
      if (!matcher.matches()) return false;
      for (let group = 1; group <= groups; group++) captures.push(matcher.group(group) ?? '');
      return true;
    },
    test(input) {
      return engine.test(input);
    },
  };
}
