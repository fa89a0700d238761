// The delivery contract between a queue and whatever moves mail on (STYLE.md, after chasquid's
// courier and Postfix's delivery requests): one request names one next hop and many recipients,
// and the courier answers with one outcome per recipient. Anything not definitely final is a deferral.

import type { Readable } from 'node:stream';
import type { Envelope } from './envelope.ts';
import type { SmtpError } from './smtp-error.ts';

export interface DeliveryRequest {
  readonly queueId: string;
  /** `rcptTo` holds only the recipients of this batch, all for `nextHop`. */
  readonly envelope: Envelope;
  /** Where to deliver: a domain whose MX is looked up, or the name of a configured smarthost. */
  readonly nextHop: string;
  /** Opens the message (headers and body) from the start; may be called more than once. */
  readonly openMessage: () => Readable;
  /**
   * Octets `openMessage` yields, when the queue knows them: what RFC 1870 SIZE announces, so
   * that nothing has to read the message just to measure it.
   */
  readonly size?: number;
}

/** One per recipient; `rcpt` is the recipient address as `formatAddress` writes it. */
export type Outcome =
  | { readonly rcpt: string; readonly status: 'delivered'; readonly reply: string }
  | { readonly rcpt: string; readonly status: 'deferred' | 'bounced'; readonly error: SmtpError };

export interface Courier {
  deliver(request: DeliveryRequest, signal: AbortSignal): Promise<Outcome[]>;
}
