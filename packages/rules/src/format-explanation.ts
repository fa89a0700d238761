// Renders an Explanation as text for people (`mailyard rules test`): per recipient, the decision,
// the plan, and every rule tried in precedence order with the reason it did or did not apply.

import { formatAddress } from '@mailyard/smtp';
import type { Action, Explanation, RuleRef } from './types.ts';

function formatRef(ref: RuleRef, file: string | null): string {
  const name = ref.name === null ? '' : ` '${ref.name}'`;
  const where = ref.line === null ? '' : ` (${file ?? 'line'}${file ? ':' : ' '}${ref.line}:${ref.column})`;
  return `rules[${ref.index}]${name}${where}`;
}

export function formatAction(action: Action): string {
  switch (action.type) {
    case 'forward':
      return `forward to ${action.to.map((a) => formatAddress(a)).join(', ')}`;
    case 'deliver':
      return 'deliver (MX of the recipient domain)';
    case 'relay':
      return `relay via smarthost '${action.smarthost}'`;
    case 'drop':
      return 'drop (accept and discard)';
    case 'reject':
      return `reject ${action.error.reply}`;
    case 'hold':
      return action.reason === null ? 'hold' : `hold (${action.reason})`;
    case 'webhook':
      return `webhook '${action.endpoint}'`;
  }
}

export function formatExplanation(explanation: Explanation, options: { file?: string } = {}): string {
  const file = options.file ?? null;
  const lines: string[] = [];
  for (const { plan, matched, tried } of explanation.recipients) {
    lines.push(`${formatAddress(plan.recipient.address)}: ${plan.accepted ? 'accepted' : 'rejected'}`);
    for (const action of plan.actions) lines.push(`  -> ${formatAction(action)}`);
    lines.push(
      matched.length === 0
        ? '  decided by: no rule matched (default: 550 5.1.1)'
        : `  decided by: ${matched.map((ref) => formatRef(ref, file)).join(', then ')}`,
    );
    if (tried.length > 0) lines.push('  tried, strongest first:');
    for (const step of tried) {
      const tier = step.tier === null ? '' : ` [${step.tier} '${step.pattern}']`;
      lines.push(`    ${step.outcome.padEnd(11)} ${formatRef(step.rule, file)}${tier}: ${step.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
