import { expect, it } from 'vitest';
import { createRetrySchedule, DEFAULT_LIFETIME_MS } from './retry.ts';

const MINUTE = 60_000;

it('backs off from minutes to hourly by default, with a five-day lifetime', () => {
  const schedule = createRetrySchedule({ jitter: 0 });
  expect([1, 2, 3, 4, 5, 6, 50].map((n) => schedule.delay(n) / MINUTE)).toEqual([5, 10, 20, 40, 60, 60, 60]);
  expect(schedule.lifetimeMs).toBe(5 * 24 * 60 * MINUTE);
  expect(DEFAULT_LIFETIME_MS).toBe(schedule.lifetimeMs);
});

it('varies each delay by at most the jitter fraction', () => {
  const low = createRetrySchedule({ schedule: [100_000], jitter: 0.2, random: () => 0 });
  const high = createRetrySchedule({ schedule: [100_000], jitter: 0.2, random: () => 0.999999 });
  expect(low.delay(1)).toBe(80_000);
  expect(high.delay(1)).toBeLessThanOrEqual(120_000);
  expect(high.delay(1)).toBeGreaterThan(119_000);
});

it('refuses an empty schedule', () => {
  expect(() => createRetrySchedule({ schedule: [] })).toThrow(RangeError);
});
