import { describe, expect, it } from 'vitest';
import { arcSealTagProblem } from './arc-seal-tags.ts';

const seal = (value: string) => [{ key: 'arc-seal', line: Buffer.from(`ARC-Seal: ${value}`) }];
const GOOD = 'i=1; a=rsa-sha256; cv=none; d=example.org; s=s1; t=1; b=abc=';

describe('arcSealTagProblem', () => {
  it('accepts a well-formed seal, with or without a trailing semicolon', () => {
    expect(arcSealTagProblem(seal(GOOD))).toBeNull();
    expect(arcSealTagProblem(seal(`${GOOD};`))).toBeNull();
  });

  it('ignores an unknown but well-formed tag (RFC 6376 §3.2)', () => {
    expect(arcSealTagProblem(seal(`${GOOD}; w=catparty`))).toBeNull();
  });

  it('refuses an invalid tag name', () => {
    expect(arcSealTagProblem(seal(`${GOOD}; _=x`))).toMatch(/invalid tag/);
  });

  it('refuses a duplicate tag', () => {
    expect(arcSealTagProblem(seal(`${GOOD}; cv=pass`))).toMatch(/duplicate/);
  });

  it('refuses an upper-case tag name', () => {
    expect(arcSealTagProblem(seal(GOOD.replace('cv=', 'CV=')))).toMatch(/lower case/);
  });

  it('refuses an empty tag-spec', () => {
    expect(arcSealTagProblem(seal(GOOD.replace('s=s1;', 's=s1;;')))).toMatch(/empty/);
  });

  it('looks only at ARC-Seal fields', () => {
    expect(arcSealTagProblem([{ key: 'dkim-signature', line: 'DKIM-Signature: A=1; a=2; a=3' }])).toBeNull();
  });
});
