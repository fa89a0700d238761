import { expect, it } from 'vitest';
import { createTokenBuckets } from './rate-limit.ts';

it('allows a burst, then one token per 1/rate seconds, per key', () => {
  let now = 0;
  const buckets = createTokenBuckets({ perSecond: 4, burst: 2 }, () => now);
  expect(buckets.available('a')).toBe(2);
  buckets.take('a');
  buckets.take('a');
  expect(buckets.available('a')).toBe(0);
  expect(buckets.available('b')).toBe(2);
  expect(buckets.waitMs('a')).toBe(250);
  now += 250;
  expect(buckets.available('a')).toBe(1);
  now += 10_000;
  expect(buckets.available('a')).toBe(2);
});
