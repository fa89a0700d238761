// The total session deadline (RFC 5321 §4.5.3.2 leaves it to the server; 421 4.4.2 is §3.8)
// of every connection of one server, kept by one timer instead of one per connection. All
// connections of a server share one sessionTimeoutMs, so their deadlines come in the order the
// connections did: a Map in insertion order is the queue, and the timer only ever waits for its
// head. Starting and ending a session is a Map insert and delete; a short session (the usual
// case) never touches the timer at all.

export interface SessionDeadlines<T> {
  /** Starts the deadline of `session`: `timeoutMs` from now `expire(session)` runs, unless ended first. */
  start(session: T): void;
  /** The session ended: its deadline no longer applies. */
  end(session: T): void;
}

export function createSessionDeadlines<T>(
  timeoutMs: number,
  expire: (session: T) => void,
  now: () => number = () => performance.now(),
): SessionDeadlines<T> {
  const queue = new Map<T, number>();
  let timer: NodeJS.Timeout | null = null;

  function arm(deadline: number): void {
    timer = setTimeout(fire, Math.max(1, Math.ceil(deadline - now())));
    // Like the per-connection timer it replaces: a session deadline keeps no process alive.
    timer.unref();
  }

  function fire(): void {
    timer = null;
    const time = now();
    for (const [session, deadline] of queue) {
      if (deadline > time) {
        arm(deadline);
        return;
      }
      queue.delete(session);
      expire(session);
    }
  }

  return {
    start(session) {
      queue.set(session, now() + timeoutMs);
      if (timer === null) arm(now() + timeoutMs);
    },
    end(session) {
      // The timer stays armed when the head leaves: when it fires it re-arms for the new head.
      queue.delete(session);
    },
  };
}
