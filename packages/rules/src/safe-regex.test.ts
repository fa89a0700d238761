import { describe, expect, it } from 'vitest';
import { compileSafeRegex, literalAffixes, type SafeRegex } from './safe-regex.ts';

function compiled(source: string): SafeRegex {
  const regex = compileSafeRegex(source);
  if (typeof regex === 'string') throw new Error(regex);
  return regex;
}

describe('regexes on a linear-time engine', () => {
  it('matches the whole input case-insensitively and returns groups', () => {
    const regex = compiled('(.+)-(sales)@example\\.com');
    const out: string[] = [];
    expect(regex.matchWhole('Bob-Sales@example.com', out)).toBe(true);
    expect(out).toEqual(['Bob', 'Sales']);
    expect(regex.matchWhole('x-bob-sales@example.com.evil', [])).toBe(false);
  });

  it.each(['(a+)+$', '(a|a)*$', '(.*a){20}', '(a*)*b', '((a+)+)+c'])(
    'runs the ReDoS pattern %s over 10,000 characters without backtracking',
    (source) => {
      const regex = compiled(source);
      const input = `${'a'.repeat(10_000)}!`;
      const start = performance.now();
      regex.matchWhole(input, []);
      regex.test(input);
      // A backtracking engine needs longer than the age of the universe here; generous bound.
      expect(performance.now() - start).toBeLessThan(5_000);
    },
  );

  it('refuses backreferences and lookaround, which need backtracking', () => {
    expect(compileSafeRegex('(a)\\1')).toMatch(/does not compile/);
    expect(compileSafeRegex('(?=a)a')).toMatch(/does not compile/);
  });

  it('refuses a regex that does not compile, with the reason', () => {
    expect(compileSafeRegex('[a-')).toMatch(/does not compile: missing closing \]/);
  });

  it('refuses a regex whose program is too large to run cheaply', () => {
    expect(compileSafeRegex('(.*a){1000}')).toMatch(/too expensive/);
    expect(compileSafeRegex('a{1000}{1000}')).toMatch(/does not compile/);
  });

  it('refuses an overlong regex source', () => {
    expect(compileSafeRegex('a'.repeat(1_001))).toMatch(/longer than/);
  });
});

describe('literal prefix and suffix of a regex', () => {
  it.each([
    ['^abuse@.*$', 'abuse@', ''],
    ['^noreply-[0-9]+@.*$', 'noreply-', ''],
    ['^(.+)\\.ops@example\\.com$', '', '.ops@example.com'],
    ['Sales-.*@Example\\.com', 'sales-', '@example.com'],
    ['^ab*c$', 'a', 'c'],
    ['^ab{2}c', 'a', 'c'],
    ['abc?', 'ab', ''],
    ['a|b@x\\.com', '', ''],
    ['(a|b)@x\\.com', '', '@x.com'],
    ['^\\x41bc$', '', ''],
    ['^[abc]x$', '', 'x'],
    ['^a\\$$', 'a$', 'a$'],
  ])('reads %s as prefix %j and suffix %j', (source, prefix, suffix) => {
    expect(literalAffixes(source)).toEqual({ prefix, suffix });
  });

  it('never rejects a real match through the prefilter, whatever the case', () => {
    const regex = compiled('^abc-(.*)@example\\.com$');
    expect(regex.matchWhole('ABC-x@EXAMPLE.com', [])).toBe(true);
    expect(regex.matchWhole('abd-x@example.com', [])).toBe(false);
  });

  it('leaves non-ASCII input to the engine, whose case folding differs from toLowerCase', () => {
    // U+017F (long s) folds to s in RE2's case-insensitive matching.
    expect(compiled('^s.*').matchWhole('\u017fx', [])).toBe(true);
  });
});
