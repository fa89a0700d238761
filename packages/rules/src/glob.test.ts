import { describe, expect, it } from 'vitest';
import { compileGlob, globCovers, matchGlob } from './glob.ts';

function captures(pattern: string, input: string): string[] | null {
  const out: string[] = [];
  return matchGlob(compileGlob(pattern), input, out) ? out : null;
}

describe('wildcards', () => {
  it('matches literal text exactly when there is no star', () => {
    expect(captures('alice', 'alice')).toEqual([]);
    expect(captures('alice', 'alice2')).toBeNull();
  });

  it('captures each star, the last one taking the rest', () => {
    expect(captures('sales-*', 'sales-emea')).toEqual(['emea']);
    expect(captures('*-*', 'a-b-c')).toEqual(['a', 'b-c']);
    expect(captures('*', '')).toEqual(['']);
  });

  it('does not let prefix and suffix overlap', () => {
    expect(captures('ab*ba', 'aba')).toBeNull();
    expect(captures('ab*ba', 'abba')).toEqual(['']);
  });

  it('keeps the original case in captures', () => {
    const out: string[] = [];
    expect(matchGlob(compileGlob('sales-*'), 'sales-emea', out, 'Sales-EMEA')).toBe(true);
    expect(out).toEqual(['EMEA']);
  });

  it('knows when one wildcard covers another', () => {
    expect(globCovers(compileGlob('*'), compileGlob('sales-*'))).toBe(true);
    expect(globCovers(compileGlob('*.example.com'), compileGlob('*.eu.example.com'))).toBe(true);
    expect(globCovers(compileGlob('sales-*'), compileGlob('*'))).toBe(false);
    expect(globCovers(compileGlob('a*'), compileGlob('*a'))).toBe(false);
  });
});
