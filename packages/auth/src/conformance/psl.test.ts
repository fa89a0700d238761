// DMARC Organizational Domain: the Public Suffix List's own test vectors (test_psl.txt).

import { domainToASCII } from 'node:url';
import { describe, expect, it } from 'vitest';
import { organizationalDomain } from '../org-domain.ts';
import { readTestdata } from './suites.ts';

const CALL = /^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);$/;
const arg = (text: string) => (text === 'null' ? null : text.slice(1, -1));

const cases = readTestdata('psl-org-domain/test_psl.txt')
  .split('\n')
  .map((line) => CALL.exec(line.trim()))
  .filter((match) => match !== null)
  .map((match) => ({ input: arg(match[1] ?? 'null'), expected: arg(match[2] ?? 'null') }));

describe('Public Suffix List test vectors', () => {
  it('reads all 78 active vectors', () => expect(cases).toHaveLength(78));
  for (const { input, expected } of cases) {
    it(`organizationalDomain(${input}) is ${expected}`, () => {
      // We answer in A-labels (what DNS and DMARC compare); the vectors write IDNs as U-labels.
      expect(organizationalDomain(input)).toBe(expected === null ? null : domainToASCII(expected));
    });
  }
});
