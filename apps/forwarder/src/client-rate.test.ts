import { describe, expect, it } from 'vitest';
import { createClientRate } from './client-rate.ts';

describe('client rate', () => {
  it('allows the limit per window, per key, and slides across the window edge', () => {
    let now = 0;
    const rate = createClientRate(3, 60_000, () => now);
    expect([1, 2, 3, 4].map(() => rate.take('a'))).toEqual([true, true, true, false]);
    expect(rate.take('b')).toBe(true);
    // Just after the edge, the previous window still weighs almost fully.
    now = 60_000;
    expect(rate.take('a')).toBe(false);
    // Half way through the next window: 3 * 0.5 = 1.5 used, so one more than half the limit fits.
    now = 90_000;
    expect([1, 2, 3].map(() => rate.take('a'))).toEqual([true, true, false]);
    // Two windows later everything is forgotten.
    now = 240_000;
    expect([1, 2, 3, 4].map(() => rate.take('a'))).toEqual([true, true, true, false]);
  });
});
