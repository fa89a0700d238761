import { describe, expect, it } from 'vitest';
import { isErrorCode, isListing, parseCodeRange } from './return-codes.ts';

describe('listing codes (RFC 5782 §2.1, Spamhaus return codes)', () => {
  it('counts 127.0.0.2 and the rest of 127.0.0.0/8 by default', () => {
    expect(isListing('127.0.0.2', null)).toBe(true);
    expect(isListing('127.0.1.2', null)).toBe(true);
  });

  it('never counts 127.0.0.1, the error codes 127.255.255.x, or answers outside 127.0.0.0/8', () => {
    const all = [{ from: 0, to: 0xffffffff }];
    for (const answer of [
      '127.0.0.1',
      '127.255.255.252',
      '127.255.255.254',
      '127.255.255.255',
      '192.0.2.1',
    ]) {
      expect(isListing(answer, null)).toBe(false);
      expect(isListing(answer, all)).toBe(false);
    }
    expect(isErrorCode('127.255.255.254')).toBe(true);
    expect(isErrorCode('127.0.0.2')).toBe(false);
  });

  it('counts only configured codes when given', () => {
    const zen = [parseCodeRange('127.0.0.2-127.0.0.11')].filter((r) => typeof r !== 'string');
    expect(isListing('127.0.0.11', zen)).toBe(true);
    expect(isListing('127.0.0.12', zen)).toBe(false);
  });

  it('refuses ranges that are backwards, outside 127/8, or reach the error codes', () => {
    expect(parseCodeRange('127.0.0.5-127.0.0.2')).toContain('ends before');
    expect(parseCodeRange('10.0.0.1')).toContain('outside');
    expect(parseCodeRange('127.0.0.2-127.255.255.255')).toContain('errors');
  });
});
