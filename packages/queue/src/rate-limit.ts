// A token bucket per next hop: at most `perSecond` deliveries a second on average, `burst` at
// once. Remote sites throttle senders that open too many transactions too fast (RFC 5321 §4.5.4.1
// asks senders to be considerate); this keeps a worker below such limits.

export interface RateLimit {
  /** Deliveries (transactions) per second to one next hop. */
  readonly perSecond: number;
  /** How many may start at once after a quiet spell. Default 1. */
  readonly burst?: number;
}

export interface TokenBuckets {
  /** Whole tokens available now for this next hop. */
  available(key: string): number;
  take(key: string): void;
  /** Milliseconds until the next token for a key that has none; 0 if one is there. */
  waitMs(key: string): number;
}

export function createTokenBuckets(
  limit: RateLimit,
  now: () => number = () => performance.now(),
): TokenBuckets {
  if (!(limit.perSecond > 0)) throw new RangeError('rate.perSecond must be positive');
  const burst = Math.max(1, limit.burst ?? 1);
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refill = (key: string): { tokens: number; at: number } => {
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) * limit.perSecond) / 1000);
    bucket.at = t;
    buckets.set(key, bucket);
    return bucket;
  };
  return {
    available: (key) => Math.floor(refill(key).tokens),
    take(key) {
      refill(key).tokens -= 1;
    },
    waitMs(key) {
      const bucket = refill(key);
      return bucket.tokens >= 1 ? 0 : Math.ceil(((1 - bucket.tokens) * 1000) / limit.perSecond);
    },
  };
}
