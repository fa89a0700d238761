// When a delivery status notification is owed: RFC 3461 §4.1 (NOTIFY, and the MTA's default
// when it is absent), §6.2 (which event each action reports) and RFC 5321 §4.5.5 / §6.1
// (never a notification to the null reverse-path, so bounces cannot loop).

import type { Envelope, Recipient } from '../envelope.ts';

/** The `Action` of an RFC 3464 per-recipient report (§2.3.3). */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

const EVENT = {
  failed: 'FAILURE',
  delayed: 'DELAY',
  delivered: 'SUCCESS',
  relayed: 'SUCCESS',
  expanded: 'SUCCESS',
} as const;

/**
 * Whether this recipient asked for (or, without NOTIFY, gets by default) a DSN reporting
 * `action`. NOTIFY=NEVER: never. Without NOTIFY we use RFC 3461's suggested default
 * NOTIFY=FAILURE,DELAY: failures and delays are reported, successes are not.
 */
export function wantsDsn(recipient: Recipient, action: DsnAction): boolean {
  const notify = recipient.notify;
  if (notify === 'NEVER') return false;
  if (notify === undefined) return EVENT[action] !== 'SUCCESS';
  return notify.includes(EVENT[action]);
}

/**
 * Whether a DSN may be sent for this envelope at all: never to the null sender `<>`, because
 * a notification about a notification is how bounce loops start.
 */
export function mayNotifySender(envelope: Pick<Envelope, 'mailFrom'>): boolean {
  return envelope.mailFrom !== null;
}
