// Failed-AUTH throttling (RFC 4954 §4: 454 4.7.0 is the temporary authentication failure): after
// too many failures in a window from one client IP, or against one user name, further attempts
// get 454 until the window has passed. Password guessing from many addresses is slowed by the
// per-user limit, from one address by the per-IP limit. A success clears the user's count only:
// one valid account must not let an address reset its own budget.

export interface AuthThrottleOptions {
  readonly maxFailuresPerIp: number;
  readonly maxFailuresPerUser: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

export interface AuthThrottle {
  /** Whether this attempt must be refused without checking the password. */
  blocked(ip: string, username: string): boolean;
  failed(ip: string, username: string): void;
  succeeded(username: string): void;
}

export function createAuthThrottle(options: AuthThrottleOptions): AuthThrottle {
  const now = options.now ?? Date.now;
  const byIp = new Map<string, number[]>();
  const byUser = new Map<string, number[]>();
  const recent = (map: Map<string, number[]>, key: string): number[] => {
    const since = now() - options.windowMs;
    const list = (map.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) map.delete(key);
    else map.set(key, list);
    return list;
  };
  const add = (map: Map<string, number[]>, key: string): void => {
    const list = recent(map, key);
    list.push(now());
    map.set(key, list);
    // Bound memory under a flood of distinct keys: forget the oldest entries.
    if (map.size > 100_000) map.delete(map.keys().next().value as string);
  };
  return {
    blocked(ip, username) {
      return (
        recent(byIp, ip).length >= options.maxFailuresPerIp ||
        recent(byUser, username.toLowerCase()).length >= options.maxFailuresPerUser
      );
    },
    failed(ip, username) {
      add(byIp, ip);
      add(byUser, username.toLowerCase());
    },
    succeeded(username) {
      byUser.delete(username.toLowerCase());
    },
  };
}
