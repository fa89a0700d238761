// Per-client-IP rate limits (connections and messages per minute), as Postfix's anvil counts
// them: a sliding window estimated from the current and previous fixed windows (the previous
// one weighted by how much of it still overlaps), so a client cannot burst twice the limit
// across a window edge. Counts live in this process: several forwarders each allow the limit.

export interface ClientRate {
  /** Counts one event for `key`; false when it is over the limit (the event is not counted). */
  take(key: string): boolean;
}

interface Counter {
  window: number;
  current: number;
  previous: number;
}

export function createClientRate(limit: number, windowMs = 60_000, now: () => number = Date.now): ClientRate {
  const counters = new Map<string, Counter>();
  let swept = 0;
  const sweep = (window: number): void => {
    // Forget clients idle for two windows, at most once per window.
    if (window === swept) return;
    swept = window;
    for (const [key, counter] of counters) if (counter.window < window - 1) counters.delete(key);
  };
  return {
    take(key) {
      const at = now();
      const window = Math.floor(at / windowMs);
      sweep(window);
      let counter = counters.get(key);
      if (!counter) {
        counter = { window, current: 0, previous: 0 };
        counters.set(key, counter);
      } else if (counter.window !== window) {
        counter.previous = counter.window === window - 1 ? counter.current : 0;
        counter.current = 0;
        counter.window = window;
      }
      const overlap = 1 - (at % windowMs) / windowMs;
      if (counter.current + counter.previous * overlap >= limit) return false;
      counter.current += 1;
      return true;
    },
  };
}
