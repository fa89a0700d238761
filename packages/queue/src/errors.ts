// The typed failures of the queue, as SmtpErrors so an SMTP front end can send them as they are
// (RFC 5321 §4.2; enhanced codes RFC 3463). Broken infrastructure is temporary: fail closed.

import { SmtpError } from '@mailyard/smtp';

/** An enqueue with no recipients: nothing to deliver (RFC 5321 §3.3 "no valid recipients"). */
export function noRecipientsError(): SmtpError {
  return new SmtpError(554, '5.5.1', 'No valid recipients');
}

/** The message exceeds the queue's size limit (RFC 1870; RFC 3463 X.3.4). */
export function messageTooBigError(limit: number): SmtpError {
  return new SmtpError(552, '5.3.4', `Message size exceeds fixed maximum message size (${limit} octets)`);
}

/** The queue has been closed: retry later, elsewhere (RFC 3463 X.3.2). */
export function queueClosedError(): SmtpError {
  return new SmtpError(451, '4.3.2', 'Queue is closed, try again later');
}

/** A failed write: "disk full" is 452 4.3.1, anything else 451 4.3.0 (from @mailyard/smtp). */
export { storageError } from '@mailyard/smtp';

/** The store was closed under the queue (RFC 3463 X.3.2). */
export function storeClosedError(): SmtpError {
  return new SmtpError(451, '4.3.2', 'Queue store is closed, try again later');
}
