import { describe, expect, it } from 'vitest';
import { createAuthThrottle } from './auth-throttle.ts';

describe('auth throttle', () => {
  it('blocks a user after too many failures and lets them in again after the window', () => {
    let now = 0;
    const throttle = createAuthThrottle({
      maxFailuresPerIp: 100,
      maxFailuresPerUser: 2,
      windowMs: 1000,
      now: () => now,
    });
    throttle.failed('192.0.2.1', 'alice');
    expect(throttle.blocked('192.0.2.2', 'alice')).toBe(false);
    throttle.failed('192.0.2.3', 'alice');
    expect(throttle.blocked('192.0.2.4', 'ALICE')).toBe(true);
    now = 1001;
    expect(throttle.blocked('192.0.2.4', 'alice')).toBe(false);
  });

  it('blocks an address after too many failures, whatever the user', () => {
    const throttle = createAuthThrottle({ maxFailuresPerIp: 2, maxFailuresPerUser: 100, windowMs: 60_000 });
    throttle.failed('192.0.2.1', 'a');
    throttle.failed('192.0.2.1', 'b');
    expect(throttle.blocked('192.0.2.1', 'c')).toBe(true);
    expect(throttle.blocked('192.0.2.9', 'c')).toBe(false);
  });

  it('does not let a success reset the address count', () => {
    const throttle = createAuthThrottle({ maxFailuresPerIp: 2, maxFailuresPerUser: 100, windowMs: 60_000 });
    throttle.failed('192.0.2.1', 'a');
    throttle.failed('192.0.2.1', 'a');
    throttle.succeeded('a');
    expect(throttle.blocked('192.0.2.1', 'a')).toBe(true);
  });
});
