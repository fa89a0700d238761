import { describe, expect, it } from 'vitest';
import { createSessionDeadlines } from './session-deadlines.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('createSessionDeadlines', () => {
  it('expires each session once its timeout has passed, in the order they started', async () => {
    const expired: string[] = [];
    const started = new Map<string, number>();
    const waited: number[] = [];
    const deadlines = createSessionDeadlines<string>(60, (session) => {
      expired.push(session);
      waited.push(performance.now() - (started.get(session) ?? 0));
    });
    for (const session of ['a', 'b']) {
      started.set(session, performance.now());
      deadlines.start(session);
      await sleep(20);
    }
    expect(expired).toEqual([]);
    await sleep(100);
    expect(expired).toEqual(['a', 'b']);
    for (const ms of waited) expect(ms).toBeGreaterThanOrEqual(59);
  });

  it('never expires a session that ended, and still expires the ones after it', async () => {
    const expired: string[] = [];
    const deadlines = createSessionDeadlines<string>(50, (session) => expired.push(session));
    deadlines.start('short');
    await sleep(10);
    deadlines.start('long');
    deadlines.end('short');
    await sleep(120);
    expect(expired).toEqual(['long']);
  });
});
