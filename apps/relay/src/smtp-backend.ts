// The relay's SMTP backend (the `SmtpBackend` of @mailyard/smtp): who may submit, as whom, to whom.
// RFC 4954 AUTH (PLAIN/LOGIN, only after TLS — the server enforces it; 535 5.7.8 on bad
// credentials, 454 4.7.0 while throttled), RFC 6409 §6.1 sender authorisation (553 5.7.1), relay
// control (relay-policy.ts, 554 5.7.1), RCPT-time rules (550 / the rule's reply). DATA goes through
// the accept pipeline, which answers only after the queue committed.

import type { Router } from '@mailyard/rules';
import type { Logger } from '@mailyard/service';
import { createRefuse } from '@mailyard/service';
import {
  type AuthCredentials,
  type ConnectionInfo,
  formatAddress,
  type SmtpBackend,
  SmtpError,
  type SmtpSession,
} from '@mailyard/smtp';
import type { AcceptPipeline } from './accept-pipeline.ts';
import type { AuthThrottle } from './auth-throttle.ts';
import type { NetworkList } from './network-list.ts';
import { relayRefusal, senderAllowed } from './relay-policy.ts';
import type { UsersFile } from './users-file.ts';

export const TRUSTED_LISTENER = 'trusted';

export interface RelayBackendOptions {
  readonly pipeline: AcceptPipeline;
  readonly users: UsersFile | null;
  readonly throttle: AuthThrottle;
  readonly grants: ReadonlyMap<string, readonly string[]>;
  readonly localDomains: ReadonlySet<string>;
  /** Clients of the `trusted` listener in these networks may relay without AUTH. */
  readonly trustedNetworks: NetworkList | null;
  readonly router: Router | null;
  readonly logger: Logger;
  /** Called with every refusal and acceptance this backend decides (for metrics). */
  readonly onReply?: (code: number) => void;
}

export function createRelayBackend(options: RelayBackendOptions): SmtpBackend {
  const { pipeline, throttle, logger } = options;
  const reply = options.onReply ?? (() => {});
  const refuse = createRefuse(logger, reply);

  const backend: SmtpBackend = {
    dsn: true,
    connect(info): SmtpSession {
      const trusted =
        info.listener === TRUSTED_LISTENER &&
        (options.trustedNetworks?.includes(info.remoteAddress) ?? false);
      return {
        async mail(from) {
          if (info.user !== null && !senderAllowed(info.user, from, options.grants)) {
            refuse(new SmtpError(553, '5.7.1', 'Sender address not allowed for this user'), info, {
              mailFrom: formatAddress(from),
            });
          }
        },
        async rcpt(to, envelope) {
          const facts = { authenticated: info.user !== null, trusted };
          const refusal = relayRefusal(to.address, facts, options.localDomains);
          if (refusal)
            refuse(refusal, info, {
              mailFrom: formatAddress(envelope.mailFrom),
              rcpt: formatAddress(to.address),
            });
          if (options.router) {
            const decision = options.router.accepts(to.address, {
              mailFrom: envelope.mailFrom,
              clientIp: info.remoteAddress,
              authUser: info.user,
              ...(envelope.params.size !== undefined ? { size: envelope.params.size } : {}),
            });
            if (!decision.accepted) refuse(decision.error, info, { rcpt: formatAddress(to.address) });
          }
        },
        async data(message, envelope) {
          try {
            const accepted = await pipeline.accept({
              envelope,
              message,
              clientIp: info.remoteAddress,
              authUser: info.user,
              sessionId: info.sessionId,
            });
            reply(250);
            return accepted.queueId ? `queued as ${accepted.queueId}` : 'Ok: dropped by rule';
          } catch (error) {
            message.resume();
            return refuse(SmtpError.from(error), info, {
              mailFrom: formatAddress(envelope.mailFrom),
              err: error,
            });
          }
        },
      };
    },
  };
  if (options.users) {
    const users = options.users;
    backend.auth = async (credentials: AuthCredentials, info: ConnectionInfo) => {
      const ip = info.remoteAddress;
      if (throttle.blocked(ip, credentials.username)) {
        reply(454);
        logger.warn({ sessionId: info.sessionId, remoteAddr: ip, smtpCode: 454 }, 'auth throttled');
        throw new SmtpError(454, '4.7.0', 'Too many failed authentication attempts, try again later');
      }
      if (await users.verify(credentials.username, credentials.password)) {
        throttle.succeeded(credentials.username);
        return credentials.username;
      }
      throttle.failed(ip, credentials.username);
      reply(535);
      logger.warn(
        { sessionId: info.sessionId, remoteAddr: ip, smtpCode: 535, enhanced: '5.7.8' },
        'auth failed',
      );
      return null;
    };
  }
  return backend;
}
