// The public shapes of @mailyard/rules: what the router is told about a message (facts), what it
// answers (a plan of actions per recipient, or an explanation), and how configuration problems
// are reported. Plain data, so a plan can be logged, stored with a queued message or compared.

import type { Address, Recipient, SmtpError } from '@mailyard/smtp';

export type AuthMethod = 'spf' | 'dkim' | 'dmarc' | 'arc';

/**
 * What is known about the message besides its envelope. A fact left `undefined` is unknown:
 * `accepts` (RCPT time) keeps both outcomes open for a rule that needs it, `route` treats the rule
 * as not matching.
 */
export interface Facts {
  /** The client's IP address (IPv4, IPv6 or IPv4-mapped IPv6). */
  readonly clientIp?: string;
  /** The SMTP AUTH identity; `null` when the client did not authenticate. */
  readonly authUser?: string | null;
  /** Message size in octets: the SIZE parameter at RCPT time, the real size after DATA. */
  readonly size?: number;
  /** Verification verdicts after DATA, e.g. `{ dmarc: 'fail', spf: 'pass' }`. */
  readonly auth?: Readonly<Partial<Record<AuthMethod, string>>>;
  /** The message's header fields after DATA, as `[name, unfolded value]` pairs in order. */
  readonly headers?: readonly (readonly [string, string])[];
}

/** Facts at RCPT time: the sender is always known by then. */
export interface RcptFacts extends Facts {
  readonly mailFrom: Address | null;
}

export type Action =
  | { readonly type: 'forward'; readonly to: readonly Address[] }
  | { readonly type: 'deliver' }
  | { readonly type: 'relay'; readonly smarthost: string }
  | { readonly type: 'drop' }
  | { readonly type: 'reject'; readonly error: SmtpError }
  | { readonly type: 'hold'; readonly reason: string | null }
  | { readonly type: 'webhook'; readonly endpoint: string };

/** Where a rule was written: its index in `rules`, its name, and its place in the file if known. */
export interface RuleRef {
  readonly index: number;
  readonly name: string | null;
  readonly line: number | null;
  readonly column: number | null;
}

/** The precedence tiers, strongest first. */
export type Tier = 'exact' | 'subaddress' | 'pattern' | 'domain' | 'any';

export interface RecipientPlan {
  readonly recipient: Recipient;
  /** False when the recipient is refused; `actions` is then the one `reject`. */
  readonly accepted: boolean;
  readonly actions: readonly Action[];
  /** The rules whose actions make up the plan, in the order they were applied. */
  readonly rules: readonly RuleRef[];
}

export interface Plan {
  /** One entry per envelope recipient, in envelope order. */
  readonly recipients: readonly RecipientPlan[];
}

export type AcceptDecision =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly error: SmtpError; readonly rule: RuleRef | null };

export type TraceOutcome = 'matched' | 'no-match' | 'not-reached' | 'unknown';

export interface TraceStep {
  readonly rule: RuleRef;
  readonly tier: Tier | null;
  /** The recipient pattern as written, e.g. `*@example.com`. */
  readonly pattern: string;
  readonly outcome: TraceOutcome;
  /** Why: which condition failed, which rule stopped evaluation, or what the rule did. */
  readonly reason: string;
}

export interface RecipientExplanation {
  readonly plan: RecipientPlan;
  /** The rules that decided, in order (empty when no rule matched). */
  readonly matched: readonly RuleRef[];
  /** Every rule whose recipient pattern matched, in precedence order, then (verbose) the rest. */
  readonly tried: readonly TraceStep[];
}

export interface Explanation {
  readonly recipients: readonly RecipientExplanation[];
}

export interface Problem {
  readonly severity: 'error' | 'warning';
  /** Path in the configuration, e.g. `rules[3].forward[0]`. */
  readonly path: string;
  readonly message: string;
  /** 1-based position in the YAML source; null for configurations given as objects. */
  readonly line: number | null;
  readonly column: number | null;
  readonly file: string | null;
}
