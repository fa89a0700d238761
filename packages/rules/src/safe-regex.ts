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
  return {
    source,
    groups,
    matchWhole(input, captures) {
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
