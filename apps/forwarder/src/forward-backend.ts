// The forwarder's SMTP backend (an MX: no AUTH, anyone may connect). Policy by stage:
// connect — connections per client IP per minute (421 4.7.0); MAIL — messages per client IP per
// minute (450 4.7.1); RCPT — only our domains (550 5.7.1 relaying denied) and only addresses a
// rule accepts (550 5.1.1, never a later bounce: no backscatter), SRS addresses only when they
// verify (550 5.7.1); DATA — the forward pipeline, which answers once the queue committed.

import { createRefuse, type Logger } from '@mailyard/service';
import { formatAddress, type SmtpBackend, SmtpError, type SmtpSession } from '@mailyard/smtp';
import type { ClientRate } from './client-rate.ts';
import type { ForwardPipeline } from './forward-pipeline.ts';

export interface ForwardBackendOptions {
  readonly pipeline: ForwardPipeline;
  /** Our domains, lower case (the SRS domain among them). */
  readonly domains: ReadonlySet<string>;
  readonly connectionRate: ClientRate | null;
  readonly messageRate: ClientRate | null;
  readonly logger: Logger;
  /** Called with every reply code this backend decides (for metrics). */
  readonly onReply?: (code: number) => void;
}

export function createForwardBackend(options: ForwardBackendOptions): SmtpBackend {
  const { pipeline, logger } = options;
  const refuseFor = createRefuse(logger, options.onReply);
  return {
    dsn: true,
    connect(info): SmtpSession {
      const refuse = (error: SmtpError, fields: object = {}): never => refuseFor(error, info, fields);
      if (options.connectionRate && !options.connectionRate.take(info.remoteAddress)) {
        refuse(new SmtpError(421, '4.7.0', 'Too many connections from your address, try again later'));
      }
      return {
        async mail(from) {
          if (options.messageRate && !options.messageRate.take(info.remoteAddress)) {
            refuse(new SmtpError(450, '4.7.1', 'Too many messages from your address, try again later'), {
              mailFrom: formatAddress(from),
            });
          }
        },
        async rcpt(to, envelope) {
          const fields = { mailFrom: formatAddress(envelope.mailFrom), rcpt: formatAddress(to.address) };
          if (!options.domains.has(to.address.domain))
            refuse(new SmtpError(550, '5.7.1', 'Relaying denied'), fields);
          const refusal = pipeline.acceptsRecipient(to.address, envelope.mailFrom, info.remoteAddress);
          if (refusal) refuse(refusal, fields);
        },
        async data(message, envelope) {
          try {
            const forwarded = await pipeline.accept({
              envelope,
              message,
              clientIp: info.remoteAddress,
              helo: info.helo,
              sessionId: info.sessionId,
            });
            options.onReply?.(250);
            logger.info(
              {
                sessionId: info.sessionId,
                queueId: forwarded.queueId,
                mailFrom: formatAddress(envelope.mailFrom),
                rcpts: forwarded.queued,
                held: forwarded.held,
                dmarc: forwarded.verdict.dmarc.result,
              },
              forwarded.queueId ? 'forwarded' : 'dropped',
            );
            return forwarded.queueId ? `queued as ${forwarded.queueId}` : 'Ok: dropped by rule';
          } catch (error) {
            message.resume();
            return refuse(SmtpError.from(error), { mailFrom: formatAddress(envelope.mailFrom), err: error });
          }
        },
      };
    },
  };
}
