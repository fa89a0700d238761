import { expect, it } from 'vitest';
import { createThreadRestarts } from './thread-restarts.ts';

it('waits longer before each restart within the window, up to 5 s', () => {
  const restarts = createThreadRestarts({ maxRestarts: 10, delayMs: 100 });
  expect(Array.from({ length: 8 }, (_, i) => restarts.next(i))).toEqual([
    100, 200, 400, 800, 1600, 3200, 5000, 5000,
  ]);
  expect(restarts.recent).toBe(8);
});

it('gives up on the death after maxRestarts within the window, and for good', () => {
  const restarts = createThreadRestarts({ maxRestarts: 2, windowMs: 1000 });
  expect(restarts.next(0)).toBe(100);
  expect(restarts.next(10)).toBe(200);
  expect(restarts.next(20)).toBeUndefined();
  // Even once the window has passed: a store that gave up does not start the loop over.
  expect(restarts.next(5000)).toBeUndefined();
});

it('forgets restarts older than the window: a thread dying now and then is always restarted', () => {
  const restarts = createThreadRestarts({ maxRestarts: 1, windowMs: 1000 });
  for (let i = 0; i < 5; i++) expect(restarts.next(i * 1000)).toBe(100);
});

it('never restarts with maxRestarts 0', () => {
  expect(createThreadRestarts({ maxRestarts: 0 }).next(0)).toBeUndefined();
});
