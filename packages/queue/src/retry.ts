// The retry policy: when to try a deferred recipient again and when to give up. The default
// follows the large MTAs (Postfix: first retry after about 5 minutes, backing off to hourly,
// a 5-day queue lifetime; RFC 5321 §4.5.4.1 asks for at least 30 minutes and 4-5 days).
// Jitter spreads retries so that a recovering next hop is not hit by every message at once.

export interface RetryPolicy {
  /** Delays before retry 1, 2, …; the last repeats. Default 5, 10, 20, 40, 60 minutes. */
  readonly schedule?: readonly number[];
  /** How long a message may stay in the queue before undelivered recipients bounce. Default 5 days. */
  readonly lifetimeMs?: number;
  /** Each delay varies randomly by ± this fraction. Default 0.1. */
  readonly jitter?: number;
  /** The random source for jitter, in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

const MINUTE = 60_000;
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5, 10, 20, 40, 60].map((m) => m * MINUTE);
export const DEFAULT_LIFETIME_MS = 5 * 24 * 60 * MINUTE;

export interface RetrySchedule {
  readonly lifetimeMs: number;
  /** Delay before the next attempt, after `attempts` attempts have failed (attempts >= 1). */
  delay(attempts: number): number;
}

export function createRetrySchedule(policy: RetryPolicy = {}): RetrySchedule {
  const schedule = policy.schedule ?? DEFAULT_RETRY_SCHEDULE;
  if (schedule.length === 0 || schedule.some((d) => !(d >= 0))) {
    throw new RangeError('retry schedule needs at least one non-negative delay');
  }
  const jitter = Math.min(Math.max(policy.jitter ?? 0.1, 0), 1);
  const random = policy.random ?? Math.random;
  return {
    lifetimeMs: policy.lifetimeMs ?? DEFAULT_LIFETIME_MS,
    delay(attempts) {
      const base = schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1] ?? 0;
      return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
    },
  };
}
