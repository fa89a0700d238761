// Outcomes of a delivery attempt, one per recipient (delivery.ts): delivered with the remote
// reply, or the error that decided the recipient's fate. A 4xx error defers, a 5xx bounces;
// anything that is not an SmtpError is unknown and therefore temporary (451 4.3.0).

import type { Outcome } from '../delivery.ts';
import { SmtpError } from '../smtp-error.ts';

export function delivered(rcpt: string, reply: string): Outcome {
  return { rcpt, status: 'delivered', reply };
}

export function failed(rcpt: string, error: unknown): Outcome {
  const smtpError = SmtpError.from(error);
  return { rcpt, status: smtpError.temporary ? 'deferred' : 'bounced', error: smtpError };
}

/** The same failure for every recipient (a next hop that cannot be reached, a rejected MAIL). */
export function failedAll(rcpts: readonly string[], error: unknown): Outcome[] {
  return rcpts.map((rcpt) => failed(rcpt, error));
}
