// Queue ids: unique across processes and machines sharing a store, and roughly time-ordered so
// that logs and listings sort by arrival (like Postfix's long queue ids).

import { randomBytes } from 'node:crypto';

export function newQueueId(now: number): string {
  return `${now.toString(16).toUpperCase().padStart(12, '0')}${randomBytes(6).toString('hex').toUpperCase()}`;
}
