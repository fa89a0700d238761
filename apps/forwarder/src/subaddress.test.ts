import { compileRules } from '@mailyard/rules';
import { parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { resolveAlias, splitSubaddress, withTag } from './subaddress.ts';

const compiled = compileRules(
  `rules:
  - recipient: alice@forward.test
    forward: alice@inbox.test
  - recipient: alice+news@forward.test
    forward: news@inbox.test
`,
  {},
);
if (!compiled.ok) throw new Error('rules');
const { router } = compiled;
const facts = { mailFrom: null };
const on = { separator: '+', keepTag: false } as const;

describe('subaddressing', () => {
  it('splits at the first separator only', () => {
    expect(splitSubaddress(parseAddress('a+b+c@x.test'), '+')).toEqual({
      base: parseAddress('a@x.test'),
      tag: 'b+c',
    });
    expect(splitSubaddress(parseAddress('a@x.test'), '+')).toBeNull();
    expect(splitSubaddress(parseAddress('+a@x.test'), '+')).toBeNull();
  });

  it('falls back to the base address unless a rule names the subaddress', () => {
    expect(resolveAlias(router, parseAddress('alice+shop@forward.test'), facts, on)).toEqual({
      address: parseAddress('alice@forward.test'),
      tag: 'shop',
    });
    expect(resolveAlias(router, parseAddress('alice+news@forward.test'), facts, on).tag).toBeNull();
    expect(resolveAlias(router, parseAddress('bob+x@forward.test'), facts, on).tag).toBeNull();
    expect(
      resolveAlias(router, parseAddress('alice+shop@forward.test'), facts, {
        separator: null,
        keepTag: false,
      }).tag,
    ).toBeNull();
  });

  it('appends a kept tag to the destination', () => {
    expect(withTag(parseAddress('alice@inbox.test'), 'shop', '+')).toEqual(
      parseAddress('alice+shop@inbox.test'),
    );
  });
});
