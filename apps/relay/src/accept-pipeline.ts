// The path of an accepted message from DATA (or the HTTP injection endpoint) to the queue, ending
// in the reply: route (rules) -> enqueue (durable commit) -> `250 queued as ID`. The message
// streams into the queue: only its header block is read ahead (for header rules), so a message of
// any size is never held whole. DKIM signing happens at delivery (delivery.ts).
// DESIGN.md's invariant lives here: the caller may answer 250 only once `accept` resolved, that is
// once the queue has fsynced the message; any failure to commit becomes 451 4.3.0 (SmtpError.from),
// and nothing is delivered inline. The forwarder's pipeline has the same shape with verify/SRS/ARC
// steps of its own; what both need (peekHead, SMARTHOST_PREFIX) lives in the packages.

import type { Readable } from 'node:stream';
import type { Queue } from '@mailyard/queue';
import type { Router } from '@mailyard/rules';
import { type Logger, SMARTHOST_PREFIX } from '@mailyard/service';
import {
  type Envelope,
  formatAddress,
  metered,
  parseHeaderFields,
  peekHead,
  type Recipient,
  SmtpError,
} from '@mailyard/smtp';

export interface AcceptRequest {
  readonly envelope: Envelope;
  readonly message: Readable | Buffer;
  readonly clientIp: string | null;
  readonly authUser: string | null;
  readonly sessionId?: string;
}

export interface Accepted {
  readonly queueId: string;
  readonly held: readonly string[];
  readonly dropped: readonly string[];
}

export interface AcceptPipeline {
  /** Resolves once the message is committed; rejects with the SmtpError to reply. */
  accept(request: AcceptRequest): Promise<Accepted>;
}

export interface AcceptPipelineOptions {
  readonly queue: Queue;
  readonly router: Router | null;
  readonly logger: Logger;
}

export function createAcceptPipeline(options: AcceptPipelineOptions): AcceptPipeline {
  const { queue, router, logger } = options;
  return {
    async accept(request) {
      const { envelope } = request;
      const { head, message } = router
        ? await peekHead(request.message)
        : { head: null, message: request.message };
      const nextHops = new Map<string, string>();
      const held: string[] = [];
      const holdReasons = new Set<string>();
      const dropped: string[] = [];
      const kept: Recipient[] = [];
      if (router) {
        const plan = router.route(envelope, {
          clientIp: request.clientIp ?? undefined,
          authUser: request.authUser,
          // The size the client declared (RFC 1870): the real one is known only once stored.
          ...(envelope.params.size !== undefined ? { size: envelope.params.size } : {}),
          headers: head ? parseHeaderFields(head).map((f) => [f.name, f.value] as const) : [],
        });
        for (const recipientPlan of plan.recipients) {
          const rcpt = formatAddress(recipientPlan.recipient.address);
          const rejected = recipientPlan.actions.find((a) => a.type === 'reject');
          // After DATA there is one reply for all recipients: a refusal refuses the message.
          if (rejected?.type === 'reject' || !recipientPlan.accepted) {
            // Read the rest, so the client gets the reply rather than a stalled connection.
            if (!Buffer.isBuffer(message)) message.resume();
            throw rejected?.type === 'reject'
              ? rejected.error
              : new SmtpError(550, '5.1.1', 'No such user here');
          }
          if (recipientPlan.actions.some((a) => a.type === 'drop')) {
            dropped.push(rcpt);
            continue;
          }
          const relay = recipientPlan.actions.find((a) => a.type === 'relay');
          if (relay?.type === 'relay')
            nextHops.set(rcpt.toLowerCase(), `${SMARTHOST_PREFIX}${relay.smarthost}`);
          const hold = recipientPlan.actions.find((a) => a.type === 'hold');
          if (hold?.type === 'hold') {
            held.push(rcpt);
            holdReasons.add(hold.reason ?? 'hold rule');
          }
          kept.push(recipientPlan.recipient);
        }
      } else kept.push(...envelope.rcptTo);
      if (kept.length === 0) {
        if (!Buffer.isBuffer(message)) message.resume();
        logger.info(
          { sessionId: request.sessionId, mailFrom: formatAddress(envelope.mailFrom), dropped },
          'dropped',
        );
        return { queueId: '', held, dropped };
      }
      let queueId: string;
      try {
        ({ queueId } = await queue.enqueue({
          envelope: { ...envelope, rcptTo: kept },
          // Metered: a large message is followed by collections as it streams (memory-pressure.ts in @mailyard/smtp).
          message: Buffer.isBuffer(message) ? message : metered(message),
          // Held in the commit itself: no worker can lease them before an operator releases them.
          ...(held.length > 0
            ? { hold: held, holdReason: `held by rule: ${[...holdReasons].join('; ')}` }
            : {}),
          meta: {
            nextHop: (recipient: Recipient) =>
              nextHops.get(formatAddress(recipient.address).toLowerCase()) ?? recipient.address.domain,
            authUser: request.authUser,
            clientIp: request.clientIp,
          },
        }));
      } catch (error) {
        throw SmtpError.from(error);
      }
      return { queueId, held, dropped };
    },
  };
}
