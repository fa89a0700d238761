// When the threaded SQLite store may start a new thread after its thread died: each time a thread
// dies now and then, with a growing pause when deaths come close together, and no more once they
// come too often (a crash loop: a file or bug that every new thread meets again). Pure: the
// caller says what time it is.

export interface ThreadRestartOptions {
  /** Restarts allowed within `windowMs`; the death after them leaves the store failed. Default 5; 0: never restart. */
  readonly maxRestarts?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  /** Pause before a restart, doubled for each earlier restart within the window (at most 5 s). Default 100 ms. */
  readonly delayMs?: number;
}

export interface ThreadRestarts {
  /** A thread died at `now`: the pause before its successor starts, or undefined to give up. */
  next(now: number): number | undefined;
  /** Restarts within the window as of the last `next`. */
  readonly recent: number;
}

const MAX_DELAY_MS = 5000;

export function createThreadRestarts(options: ThreadRestartOptions = {}): ThreadRestarts {
  const maxRestarts = options.maxRestarts ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  const delayMs = options.delayMs ?? 100;
  const restarts: number[] = [];
  let gaveUp = false;
  return {
    next(now) {
      while (restarts.length > 0 && now - (restarts[0] as number) >= windowMs) restarts.shift();
      // Once given up, stay so: a restart after a pause would start the loop over.
      if (gaveUp || restarts.length >= maxRestarts) {
        gaveUp = true;
        return undefined;
      }
      const pause = Math.min(MAX_DELAY_MS, delayMs * 2 ** restarts.length);
      restarts.push(now);
      return pause;
    },
    get recent() {
      return restarts.length;
    },
  };
}
