// What the forwarder does with a message whose DMARC check failed (RFC 9989 §5.8, local policy):
// `reject` honours the sender's policy — p=reject is refused at DATA with 550 5.7.1, p=quarantine
// is delivered with a tag —, `quarantine` tags both, `ignore` delivers both untouched. Only a
// `fail` counts: temperror and permerror are not the sender's policy speaking.

import type { Verdict } from '@mailyard/auth';
import { SmtpError } from '@mailyard/smtp';

export type DmarcEnforcement = 'reject' | 'quarantine' | 'ignore';

export type DmarcDecision =
  | { readonly action: 'accept' }
  | { readonly action: 'tag'; readonly header: string }
  | { readonly action: 'reject'; readonly error: SmtpError };

export const QUARANTINE_HEADER = 'X-Mailyard-Quarantine';

export function dmarcDecision(verdict: Verdict, enforcement: DmarcEnforcement): DmarcDecision {
  const { dmarc } = verdict;
  if (dmarc.result !== 'fail' || enforcement === 'ignore') return { action: 'accept' };
  if (dmarc.policy === 'reject' && enforcement === 'reject') {
    return {
      action: 'reject',
      error: new SmtpError(
        550,
        '5.7.1',
        `Message rejected by the DMARC policy of ${dmarc.fromDomain ?? 'the sender domain'}`,
      ),
    };
  }
  if (dmarc.policy === 'reject' || dmarc.policy === 'quarantine') {
    return {
      action: 'tag',
      header: `${QUARANTINE_HEADER}: dmarc=fail policy=${dmarc.policy} header.from=${dmarc.fromDomain ?? ''}\r\n`,
    };
  }
  return { action: 'accept' };
}
