// `mailyard rules test` on a forwarder configuration: where each address goes and why (the rules'
// own explanation), plus what the forwarder does around the rules — subaddress fallback, the SRS
// rewrite of the envelope sender, reversal of bounces to SRS addresses, and the ARC seal — so an
// operator sees the whole path before any mail takes it.

import { createSrs } from '@mailyard/auth';
import { type Facts, formatExplanation } from '@mailyard/rules';
import { type Envelope, formatAddress } from '@mailyard/smtp';
import type { ForwarderConfig } from './forwarder-config.ts';
import { resolveAlias } from './subaddress.ts';

export interface ExplainForwardingOptions {
  readonly verbose?: boolean;
  /** ARC sets already on the message (the seal will be instance n + 1). */
  readonly arcInstances?: number;
  readonly now?: () => Date;
}

export function explainForwarding(
  config: ForwarderConfig,
  envelope: Envelope,
  facts: Facts,
  options: ExplainForwardingOptions = {},
): string {
  const srs = createSrs({ ...config.srs, ...(options.now ? { now: options.now } : {}) });
  const lines: string[] = [];
  const routed: Envelope['rcptTo'][number][] = [];
  for (const rcpt of envelope.rcptTo) {
    const text = formatAddress(rcpt.address);
    if (!config.domains.includes(rcpt.address.domain)) {
      lines.push(`${text}: refused at RCPT (550 5.7.1): not one of our domains`);
      continue;
    }
    if (rcpt.address.domain === config.srs.domain && srs.isSrs(text)) {
      const back = srs.reverse(text);
      lines.push(
        back.ok
          ? `${text}: a bounce to our SRS address: delivered to the original sender ${back.address}`
          : `${text}: refused at RCPT (550 5.7.1): invalid SRS address (${back.error.message})`,
      );
      continue;
    }
    const alias = resolveAlias(
      config.router,
      rcpt.address,
      { mailFrom: envelope.mailFrom, ...facts },
      config.subaddress,
    );
    if (alias.tag !== null) {
      lines.push(
        `${text}: no rule names this subaddress: routed as ${formatAddress(alias.address)}` +
          (config.subaddress.keepTag
            ? ` (tag '${alias.tag}' kept on each destination)`
            : ` (tag '${alias.tag}' dropped)`),
      );
    }
    routed.push({ ...rcpt, address: alias.address });
  }
  if (routed.length > 0) {
    const explanation = config.router.explain({ ...envelope, rcptTo: routed }, facts, {
      verbose: options.verbose ?? false,
    });
    lines.push(formatExplanation(explanation, { file: config.file }).trimEnd());
  }
  const from = envelope.mailFrom ? formatAddress(envelope.mailFrom) : null;
  lines.push(
    from === null
      ? 'SRS: the null sender <> stays <> (bounces are never rewritten)'
      : `SRS: envelope sender ${from} becomes ${srs.forward(from)} (bounces to it come back here and go to ${from})`,
  );
  const instance = (options.arcInstances ?? 0) + 1;
  lines.push(
    config.arc
      ? `ARC: sealed as instance i=${instance} by d=${config.arc.domain} s=${config.arc.selector}, carrying our Authentication-Results`
      : 'ARC: not sealed (no arc key configured)',
  );
  lines.push(
    `DMARC: ${config.dmarc === 'reject' ? 'p=reject failures are refused at DATA (550 5.7.1), p=quarantine failures tagged' : config.dmarc === 'quarantine' ? 'failures are delivered with a quarantine tag' : 'failures are ignored'}`,
  );
  return `${lines.join('\n')}\n`;
}
