// Queue ids: unique across processes and machines sharing a store, and roughly time-ordered so
// that logs and listings sort by arrival (like Postfix's long queue ids).

import { randomBytes } from 'node:crypto';

// One call for many ids: a random-bytes syscall per enqueue showed up in profiles.
let pool = randomBytes(6 * 1024);
let offset = 0;

export function newQueueId(now: number): string {
  if (offset + 6 > pool.length) {
    pool = randomBytes(6 * 1024);
    offset = 0;
  }
  const random = pool.toString('hex', offset, offset + 6).toUpperCase();
  offset += 6;
  return `${now.toString(16).toUpperCase().padStart(12, '0')}${random}`;
}
