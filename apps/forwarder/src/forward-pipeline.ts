// The forwarder's path from DATA to the queue, ending in the reply (DESIGN.md's pipeline):
//   spool -> verify (SPF, DKIM, ARC, DMARC) -> DMARC policy -> route (rules, with the verdicts as
//   facts) -> SRS on the envelope sender -> ARC seal (instance n+1) -> enqueue -> `250 queued as ID`.
// The message itself is not rewritten: the forwarder only adds trace fields on top
// (Authentication-Results, the ARC set, and a quarantine tag when policy asks for one).
// Bounces coming back to one of our SRS addresses are reversed to the original sender here too.
// 250 is answered only once the queue committed; anything unexpected becomes 451 4.3.0.

import { type ArcKey, type Resolver, type Srs, type Verdict, verify } from '@mailyard/auth';
import type { Queue } from '@mailyard/queue';
import type { Router } from '@mailyard/rules';
import type { Logger } from '@mailyard/service';
import {
  type Address,
  type Envelope,
  formatAddress,
  parseAddress,
  parseHeaderFields,
  type Recipient,
  SmtpError,
} from '@mailyard/smtp';
import type { DestinationStore } from './destinations.ts';
import { type DmarcEnforcement, dmarcDecision } from './dmarc-policy.ts';
import { spool } from './spool.ts';
import { resolveAlias, type SubaddressOptions, withTag } from './subaddress.ts';
import { WEBHOOK_PREFIX } from './webhook-courier.ts';

export const UNVERIFIED_REASON = 'destination not verified';
/** Received fields beyond which a message is taken to be looping (RFC 5321 §6.3; Postfix's hopcount_limit). */
export const MAX_HOPS = 50;

export interface ForwardRequest {
  readonly envelope: Envelope;
  readonly message: AsyncIterable<Buffer>;
  readonly clientIp: string;
  readonly helo: string | null;
  readonly sessionId?: string;
}

export interface Forwarded {
  readonly queueId: string;
  /** Destinations (and webhook recipients) queued, as `formatAddress` writes them. */
  readonly queued: readonly string[];
  readonly held: readonly string[];
  readonly verdict: Verdict;
}

export interface ForwardPipelineOptions {
  readonly hostname: string;
  readonly queue: Queue;
  readonly router: Router;
  readonly srs: Srs;
  /** The domain of our SRS addresses (bounces to it are reversed). */
  readonly srsDomain: string;
  readonly resolver: Resolver;
  readonly arcKey: ArcKey | null;
  readonly dmarc: DmarcEnforcement;
  readonly subaddress: SubaddressOptions;
  /** Destinations must be confirmed first (null: every destination is trusted). */
  readonly destinations: DestinationStore | null;
  /** Called for each destination that needs its confirmation link sent. */
  readonly onVerificationNeeded?: (address: string, token: string) => Promise<void>;
  readonly spoolDir: string;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export interface ForwardPipeline {
  /** Resolves once the message is committed; rejects with the SmtpError to reply. */
  accept(request: ForwardRequest): Promise<Forwarded>;
  /** The RCPT-time decision for one recipient (550 for unknown aliases and bad SRS addresses). */
  acceptsRecipient(to: Address, mailFrom: Address | null, clientIp: string): SmtpError | null;
}

interface Target {
  readonly address: Address;
  readonly nextHop: string;
}

function authFacts(verdict: Verdict): Record<string, string> {
  const dkim = verdict.dkim.some((d) => d.result === 'pass') ? 'pass' : (verdict.dkim[0]?.result ?? 'none');
  return { spf: verdict.spf.result, dkim, dmarc: verdict.dmarc.result, arc: verdict.arc.result };
}

export function createForwardPipeline(options: ForwardPipelineOptions): ForwardPipeline {
  const { queue, router, srs, logger } = options;
  const srsDomain = options.srsDomain.toLowerCase();
  const isSrsRecipient = (to: Address): boolean => to.domain === srsDomain && srs.isSrs(formatAddress(to));

  function reversed(to: Address): Address | SmtpError {
    const result = srs.reverse(formatAddress(to));
    if (!result.ok) return new SmtpError(550, '5.7.1', `Invalid SRS address: ${result.error.message}`);
    try {
      return parseAddress(result.address);
    } catch {
      return new SmtpError(550, '5.1.3', 'SRS address names no valid original sender');
    }
  }

  /** Where each envelope recipient goes; throws the one reply for the whole message on a refusal. */
  function plan(
    envelope: Envelope,
    request: ForwardRequest,
    verdict: Verdict,
    headers: readonly (readonly [string, string])[],
  ) {
    const targets: Target[] = [];
    const hold: string[] = [];
    const holdReasons = new Set<string>();
    const aliased: Recipient[] = [];
    const tags: (string | null)[] = [];
    for (const rcpt of envelope.rcptTo) {
      if (isSrsRecipient(rcpt.address)) {
        const back = reversed(rcpt.address);
        if (back instanceof SmtpError) throw back;
        targets.push({ address: back, nextHop: back.domain });
        continue;
      }
      const alias = resolveAlias(
        router,
        rcpt.address,
        { mailFrom: envelope.mailFrom, clientIp: request.clientIp },
        options.subaddress,
      );
      aliased.push({ ...rcpt, address: alias.address });
      tags.push(alias.tag);
    }
    if (aliased.length === 0) return { targets, hold, holdReasons };
    const routed = router.route(
      { ...envelope, rcptTo: aliased },
      { clientIp: request.clientIp, auth: authFacts(verdict), headers },
    );
    routed.recipients.forEach((recipientPlan, index) => {
      const rejected = recipientPlan.actions.find((a) => a.type === 'reject');
      if (rejected?.type === 'reject') throw rejected.error;
      if (!recipientPlan.accepted) throw new SmtpError(550, '5.1.1', 'No such user here');
      if (recipientPlan.actions.some((a) => a.type === 'drop')) return;
      const tag = options.subaddress.keepTag ? (tags[index] ?? null) : null;
      const held = recipientPlan.actions.find((a) => a.type === 'hold');
      for (const action of recipientPlan.actions) {
        if (action.type === 'forward') {
          for (const dest of action.to) {
            const address =
              tag && options.subaddress.separator ? withTag(dest, tag, options.subaddress.separator) : dest;
            targets.push({ address, nextHop: address.domain });
            if (held?.type === 'hold') {
              hold.push(formatAddress(address));
              holdReasons.add(held.reason ?? 'hold rule');
            }
          }
        } else if (action.type === 'webhook') {
          targets.push({
            address: recipientPlan.recipient.address,
            nextHop: `${WEBHOOK_PREFIX}${action.endpoint}`,
          });
        }
      }
    });
    return { targets, hold, holdReasons };
  }

  /** Holds destinations not confirmed yet, and asks for their confirmation. */
  async function unverified(targets: readonly Target[]): Promise<string[]> {
    const store = options.destinations;
    if (!store) return [];
    const held: string[] = [];
    for (const target of targets) {
      if (target.nextHop.startsWith(WEBHOOK_PREFIX)) continue;
      const rcpt = formatAddress(target.address);
      if ((await store.state(rcpt)) === 'verified') continue;
      held.push(rcpt);
      const pending = await store.request(rcpt);
      if (pending?.created) await options.onVerificationNeeded?.(rcpt, pending.token);
    }
    return held;
  }

  return {
    acceptsRecipient(to, mailFrom, clientIp) {
      if (isSrsRecipient(to)) {
        const back = reversed(to);
        return back instanceof SmtpError ? back : null;
      }
      const alias = resolveAlias(router, to, { mailFrom, clientIp }, options.subaddress);
      const decision = router.accepts(alias.address, { mailFrom, clientIp });
      return decision.accepted ? null : decision.error;
    },

    async accept(request) {
      const { envelope } = request;
      using spooled = await spool(request.message, { dir: options.spoolDir });
      const headers = parseHeaderFields(spooled.head).map((f) => [f.name, f.value] as const);
      // A forwarding loop (an alias forwarded back to itself through other hosts) ends here.
      if (headers.filter(([name]) => name.toLowerCase() === 'received').length > MAX_HOPS)
        throw new SmtpError(554, '5.4.6', 'Too many hops: mail forwarding loop');
      const verdict = await verify(spooled.buffer ?? spooled.open(), {
        envelope,
        clientIp: request.clientIp,
        ...(request.helo ? { helo: request.helo } : {}),
        resolver: options.resolver,
        authservId: options.hostname,
        ...(options.now ? { now: options.now } : {}),
        // Sealed in the same pass over the message, unless DMARC policy is about to refuse it.
        ...(options.arcKey
          ? {
              sealWith: options.arcKey,
              sealIf: (v: Verdict) => dmarcDecision(v, options.dmarc).action !== 'reject',
            }
          : {}),
      });
      const dmarc = dmarcDecision(verdict, options.dmarc);
      if (dmarc.action === 'reject') throw dmarc.error;
      const { targets, hold, holdReasons } = plan(envelope, request, verdict, headers);
      if (targets.length === 0) return { queueId: '', queued: [], held: [], verdict };
      const waiting = await unverified(targets);
      if (waiting.length > 0) holdReasons.add(UNVERIFIED_REASON);
      const trace = `${dmarc.action === 'tag' ? dmarc.header : ''}${verdict.authenticationResults}\r\n`;
      let top = trace;
      if (verdict.arcSeal?.sealed) top = `${verdict.arcSeal.headers}${trace}`;
      else if (verdict.arcSeal)
        logger.warn({ sessionId: request.sessionId, reason: verdict.arcSeal.reason }, 'ARC seal skipped');
      const nextHops = new Map(targets.map((t) => [formatAddress(t.address).toLowerCase(), t.nextHop]));
      const rcptTo = [
        ...new Map(
          targets.map((t) => [formatAddress(t.address).toLowerCase(), { address: t.address }]),
        ).values(),
      ];
      const mailFrom = envelope.mailFrom ? parseAddress(srs.forward(formatAddress(envelope.mailFrom))) : null;
      const held = [...new Set([...hold, ...waiting])];
      try {
        const { queueId } = await queue.enqueue({
          envelope: { ...envelope, mailFrom, rcptTo },
          message: prefixed(top, spooled.open()),
          ...(held.length > 0 ? { hold: held, holdReason: [...holdReasons].join('; ') } : {}),
          meta: {
            nextHop: (recipient: Recipient) =>
              nextHops.get(formatAddress(recipient.address).toLowerCase()) ?? recipient.address.domain,
            originalSender: envelope.mailFrom ? formatAddress(envelope.mailFrom) : null,
            clientIp: request.clientIp,
            aliases: envelope.rcptTo.map((r) => formatAddress(r.address)),
          },
        });
        return { queueId, queued: rcptTo.map((r) => formatAddress(r.address)), held, verdict };
      } catch (error) {
        throw SmtpError.from(error);
      }
    },
  };
}

/** `text` followed by the octets of `rest`. */
async function* prefixed(text: string, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
  yield* rest;
}
