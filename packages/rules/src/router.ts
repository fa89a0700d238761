// The router: indexes compiled rules by precedence tier and walks them for each recipient.
// Precedence (README "Precedence"): exact address > subaddress (`user+*@`) > wildcard or regex >
// domain catch-all (`*@domain`) > everything (`*`); among rules of one tier, file order.
// Exact addresses, subaddress bases and domains are Map lookups, so their cost does not grow with
// the rule count; only wildcards and regexes whose domain cannot be read off are scanned.
// Pure: no I/O, no clock. RCPT-time acceptance (RFC 5321 §3.3) and routing share one walk.

import { type Address, type Envelope, parseAddress, type Recipient, SmtpError } from '@mailyard/smtp';
import { type Condition, type Context, createContext, NO, type Tri, UNKNOWN, YES } from './conditions.ts';
import { matchGlob } from './glob.ts';
import type { RecipientSpec, RuleSpec, Template } from './schema.ts';
import type {
  AcceptDecision,
  Action,
  Explanation,
  Facts,
  Plan,
  RcptFacts,
  RecipientExplanation,
  RecipientPlan,
  RuleRef,
  Tier,
  TraceStep,
} from './types.ts';

export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly ref: RuleRef;
  readonly refs: readonly RuleRef[];
  readonly label: string;
  readonly conditions: readonly Condition[];
  readonly rejection: SmtpError | null;
  /** The rule's actions when they do not depend on the recipient (no captures, no keepTag). */
  readonly staticActions: readonly Action[] | null;
  readonly stop: boolean;
  readonly multi: boolean;
  /** No conditions, stops, actions fixed: the first such exact rule decides without a walk. */
  readonly fast: boolean;
}

export interface Entry {
  readonly rule: CompiledRule;
  readonly recipient: RecipientSpec;
  readonly tier: Tier;
}

/** Everything keyed by one recipient domain: found with one Map lookup per recipient. */
export interface ExactSlot {
  readonly entries: Entry[];
  /** Set when the first rule decides alone (no conditions, stops, fixed actions). */
  fastActions: readonly Action[] | null;
  fastRefs: readonly RuleRef[];
}

export interface DomainIndex {
  /** Lower-case local part before `+` -> subaddress rules (`user+*@domain`). */
  readonly subaddress: Map<string, Entry[]>;
  /** Wildcards and regexes that can only match this domain, in file order. */
  readonly patterns: Entry[];
  /** Domain catch-alls (`*@domain`), in file order. */
  readonly catchAll: Entry[];
}

export interface RouterIndex {
  readonly rules: readonly CompiledRule[];
  /**
   * `local@domain` (lower-case local part) -> rules naming that exact address. One flat map, not
   * one per domain: the hottest lookup touches as little memory as possible.
   */
  readonly exact: ReadonlyMap<string, ExactSlot>;
  readonly domains: ReadonlyMap<string, DomainIndex>;
  /** Wildcards and regexes whose domain cannot be read off: scanned for every recipient. */
  readonly patternOther: readonly Entry[];
  readonly any: readonly Entry[];
}

export interface ExplainOptions {
  /** Also list the rules whose recipient pattern did not match (O(rules) per recipient). */
  readonly verbose?: boolean;
}

export interface Router {
  /** Number of rules. */
  readonly size: number;
  /**
   * RCPT-time decision. Refuses only when every outcome still open refuses: a rule that needs a
   * fact not known yet (DMARC verdict, headers) might match or not.
   */
  accepts(rcpt: Recipient | Address, facts: RcptFacts): AcceptDecision;
  /** One list of actions per recipient, after DATA. Unknown facts make their rules not match. */
  route(envelope: Envelope, facts?: Facts): Plan;
  /** The plan, plus which rules were tried for each recipient and why they did or did not match. */
  explain(envelope: Envelope, facts?: Facts, options?: ExplainOptions): Explanation;
}

const EMPTY: readonly Entry[] = Object.freeze([]);
const NO_CAPTURES: readonly string[] = Object.freeze([]);

/** The reply for a recipient no rule accepts: RFC 3463 X.1.1, bad destination mailbox. */
export const NO_SUCH_USER = new SmtpError(550, '5.1.1', 'No such user here');

const MODE_ROUTE = 0;
const MODE_ACCEPT = 1;

interface Outcome {
  accepted: boolean;
  actions: readonly Action[];
  rules: readonly RuleRef[];
  error: SmtpError | null;
  errorRule: RuleRef | null;
}

function expandTemplate(template: Template, captures: readonly string[], tag: string | null): Address | null {
  if (template.fixed !== null && tag === null) return template.fixed;
  let text = '';
  for (const part of template.parts) text += typeof part === 'number' ? (captures[part - 1] ?? '') : part;
  if (tag !== null) {
    const at = text.lastIndexOf('@');
    text = `${text.slice(0, at)}+${tag}${text.slice(at)}`;
  }
  try {
    return parseAddress(text, { smtputf8: true });
  } catch {
    return null;
  }
}

/** Builds the rule's actions for one recipient, or a reason why a destination is not an address. */
function buildActions(
  rule: CompiledRule,
  captures: readonly string[],
  tag: string | null,
): readonly Action[] | string {
  if (rule.staticActions) return rule.staticActions;
  const spec = rule.spec;
  const actions: Action[] = [];
  if (spec.forward) {
    const to: Address[] = [];
    for (const template of spec.forward) {
      const address = expandTemplate(template, captures, spec.keepTag ? tag : null);
      if (!address)
        return `destination '${template.source}' does not make a valid address for this recipient`;
      to.push(address);
    }
    actions.push({ type: 'forward', to });
  }
  return actions.concat(fixedActions(spec));
}

/** The actions that never depend on the recipient, in plan order after `forward`. */
export function fixedActions(spec: RuleSpec): Action[] {
  const actions: Action[] = [];
  if (spec.deliver) actions.push({ type: 'deliver' });
  if (spec.relay !== null) actions.push({ type: 'relay', smarthost: spec.relay });
  if (spec.webhook !== null) actions.push({ type: 'webhook', endpoint: spec.webhook });
  if (spec.hold !== false) actions.push({ type: 'hold', reason: spec.hold });
  if (spec.drop) actions.push({ type: 'drop' });
  return actions;
}

function formatRecipient(address: Address): string {
  return `${address.localPart}@${address.domain}`;
}

/**
 * One walk over the candidate rules of one recipient, strongest tier first. In route mode an
 * unknown fact counts as "no match"; in accept mode the walk tracks which outcomes stay possible.
 */
class Walk {
  readonly index: RouterIndex;
  readonly ctx: Context;
  readonly mode: number;
  readonly trace: TraceStep[] | null;
  // Live worlds (accept mode): bit 1 = nothing applied yet, bit 2 = some continue-rule applied.
  live = 1;
  canAccept = false;
  stopped: CompiledRule | null = null;
  actions: readonly Action[] | null = null;
  refs: readonly RuleRef[] | null = null;
  error: SmtpError | null = null;
  errorRule: RuleRef | null = null;
  seen: Set<number> | null = null;
  tag: string | null = null;

  constructor(index: RouterIndex, ctx: Context, mode: number, trace: TraceStep[] | null) {
    this.index = index;
    this.ctx = ctx;
    this.mode = mode;
    this.trace = trace;
  }

  /** Visits one candidate; returns true when the walk is over (and nothing is being traced). */
  visit(entry: Entry, captures: readonly string[]): boolean {
    const rule = entry.rule;
    if (rule.multi) {
      this.seen ??= new Set();
      if (this.seen.has(rule.spec.index)) return false;
      this.seen.add(rule.spec.index);
    }
    if (this.stopped !== null) {
      this.trace?.push(
        this.step(entry, 'not-reached', `not reached: ${this.stopped.label} stopped evaluation`),
      );
      return this.trace === null;
    }
    let verdict: Tri = YES;
    let failed: Condition | null = null;
    for (const condition of rule.conditions) {
      const result = condition.test(this.ctx);
      if (result === NO || (result === UNKNOWN && this.mode === MODE_ROUTE)) {
        verdict = NO;
        failed = condition;
        break;
      }
      if (result === UNKNOWN) verdict = UNKNOWN;
    }
    if (verdict === NO) {
      this.trace?.push(this.step(entry, 'no-match', failed ? failed.why(this.ctx) : ''));
      return false;
    }
    let actions: readonly Action[] | string = NO_ACTIONS;
    if (rule.rejection === null) {
      actions = buildActions(rule, captures, this.tag);
      if (typeof actions === 'string') {
        this.trace?.push(this.step(entry, 'no-match', actions));
        return false;
      }
    }
    if (verdict === UNKNOWN) {
      // Accept mode only: this rule may or may not apply once the missing facts are known.
      this.trace?.push(this.step(entry, 'unknown', 'depends on facts known only after DATA'));
      // An uncertain reject gives no reply: the refusal sent is one that holds whatever DATA shows.
      if (rule.rejection === null) {
        if (rule.stop) this.canAccept = true;
        else this.live |= 2;
      }
      return false;
    }
    this.trace?.push(this.step(entry, 'matched', this.matchedReason(rule, entry)));
    if (rule.rejection !== null) {
      this.error = rule.rejection;
      this.errorRule = rule.ref;
      this.actions = null;
      this.refs = null;
      this.live = 0;
      this.stopped = rule;
      return this.trace === null;
    }
    if (this.mode === MODE_ROUTE) this.apply(rule, actions as readonly Action[]);
    if (rule.stop) {
      this.canAccept = true;
      this.live = 0;
      this.stopped = rule;
      return this.trace === null;
    }
    this.live = 2;
    return false;
  }

  apply(rule: CompiledRule, actions: readonly Action[]): void {
    if (this.actions === null || this.refs === null) {
      this.actions = actions;
      this.refs = rule.refs;
    } else {
      this.actions = this.actions.concat(actions);
      this.refs = this.refs.concat(rule.ref);
    }
  }

  matchedReason(rule: CompiledRule, entry: Entry): string {
    const verb = rule.rejection ? `rejects with ${rule.rejection.reply}` : 'matched';
    return `${verb} (${entry.tier}); ${rule.stop || rule.rejection ? 'stops evaluation' : 'continues'}`;
  }

  step(entry: Entry, outcome: TraceStep['outcome'], reason: string): TraceStep {
    return { rule: entry.rule.ref, tier: entry.tier, pattern: entry.recipient.source, outcome, reason };
  }

  /** Walks every tier for `address`; the state then holds the decision. */
  run(address: Address): void {
    const index = this.index;
    const local = address.localPart.toLowerCase();
    const domain = address.domain;
    const byDomain = index.domains.get(domain);
    const exact = index.exact.get(`${local}@${domain}`);
    if (exact !== undefined) {
      for (const entry of exact.entries) if (this.visit(entry, NO_CAPTURES)) return;
    }
    const plus = local.indexOf('+');
    if (plus > 0) {
      this.tag = address.localPart.slice(plus + 1);
      const sub = byDomain?.subaddress.get(local.slice(0, plus));
      if (sub !== undefined) {
        const captures = [this.tag];
        for (const entry of sub) if (this.visit(entry, captures)) return;
      }
    }
    const patterns = byDomain?.patterns ?? EMPTY;
    const other = index.patternOther;
    if (patterns.length > 0 || other.length > 0) {
      const original = address.localPart;
      let i = 0;
      let j = 0;
      // Merge the two lists by rule index: file order decides among wildcards and regexes.
      while (i < patterns.length || j < other.length) {
        const a = patterns[i];
        const b = other[j];
        let entry: Entry;
        if (b === undefined || (a !== undefined && a.rule.spec.index <= b.rule.spec.index)) {
          entry = a as Entry;
          i++;
        } else {
          entry = b;
          j++;
        }
        const captures: string[] = [];
        const pattern = entry.recipient.pattern;
        const matched =
          pattern.kind === 'glob'
            ? matchGlob(pattern.local, local, captures, original) &&
              matchGlob(pattern.domain, domain, captures)
            : pattern.kind === 'regex' && pattern.regex.matchWhole(`${original}@${domain}`, captures);
        if (matched && this.visit(entry, captures)) return;
      }
    }
    if (byDomain !== undefined) {
      for (const entry of byDomain.catchAll) if (this.visit(entry, NO_CAPTURES)) return;
    }
    for (const entry of index.any) if (this.visit(entry, NO_CAPTURES)) return;
  }

  outcome(): Outcome {
    if (this.mode === MODE_ACCEPT) {
      const accepted = this.canAccept || (this.live & 2) !== 0;
      return {
        accepted,
        actions: NO_ACTIONS,
        rules: NO_REFS,
        error: accepted ? null : (this.error ?? NO_SUCH_USER),
        errorRule: accepted ? null : this.errorRule,
      };
    }
    if (this.error !== null && this.stopped?.rejection) {
      return {
        accepted: false,
        actions: NO_ACTIONS,
        rules: this.stopped.refs,
        error: this.error,
        errorRule: this.errorRule,
      };
    }
    if (this.actions === null || this.refs === null) {
      return { accepted: false, actions: NO_ACTIONS, rules: NO_REFS, error: NO_SUCH_USER, errorRule: null };
    }
    return { accepted: true, actions: this.actions, rules: this.refs, error: null, errorRule: null };
  }
}

const NO_ACTIONS: readonly Action[] = Object.freeze([]);
const NO_FACTS: Facts = Object.freeze({});
const NO_REFS: readonly RuleRef[] = Object.freeze([]);
const rejectActions = new WeakMap<SmtpError, readonly Action[]>();

function rejectAction(error: SmtpError): readonly Action[] {
  let actions = rejectActions.get(error);
  if (!actions) {
    actions = Object.freeze([Object.freeze({ type: 'reject', error } as const)]);
    rejectActions.set(error, actions);
  }
  return actions;
}

function toPlan(recipient: Recipient, outcome: Outcome): RecipientPlan {
  if (outcome.accepted) return { recipient, accepted: true, actions: outcome.actions, rules: outcome.rules };
  return {
    recipient,
    accepted: false,
    actions: rejectAction(outcome.error ?? NO_SUCH_USER),
    rules: outcome.rules,
  };
}

/**
 * The common case, decided without a walk: the first rule naming this exact address has no
 * conditions and stops. Being first in the strongest tier, nothing else can apply.
 */
function fastSlot(index: RouterIndex, address: Address): ExactSlot | undefined {
  const slot = index.exact.get(`${address.localPart.toLowerCase()}@${address.domain}`);
  return slot?.fastActions ? slot : undefined;
}

export function createRouter(index: RouterIndex): Router {
  const decide = (address: Address, ctx: Context, mode: number, trace: TraceStep[] | null): Outcome => {
    const walk = new Walk(index, ctx, mode, trace);
    walk.run(address);
    return walk.outcome();
  };
  return {
    size: index.rules.length,
    accepts(rcpt, facts) {
      const address = 'address' in rcpt ? rcpt.address : rcpt;
      if (fastSlot(index, address) !== undefined) return ACCEPTED;
      const outcome = decide(address, createContext(facts.mailFrom, facts), MODE_ACCEPT, null);
      if (outcome.accepted) return ACCEPTED;
      return { accepted: false, error: outcome.error ?? NO_SUCH_USER, rule: outcome.errorRule };
    },
    route(envelope, facts = NO_FACTS) {
      let ctx: Context | undefined;
      const rcptTo = envelope.rcptTo;
      const recipients = new Array<RecipientPlan>(rcptTo.length);
      for (let i = 0; i < rcptTo.length; i++) {
        const recipient = rcptTo[i] as Recipient;
        const fast = fastSlot(index, recipient.address);
        if (fast !== undefined) {
          recipients[i] = { recipient, accepted: true, actions: fast.fastActions!, rules: fast.fastRefs };
          continue;
        }
        ctx ??= createContext(envelope.mailFrom, facts, envelope.params.size);
        recipients[i] = toPlan(recipient, decide(recipient.address, ctx, MODE_ROUTE, null));
      }
      return { recipients };
    },
    explain(envelope, facts = {}, options = {}) {
      const ctx = createContext(envelope.mailFrom, facts, envelope.params.size);
      const recipients: RecipientExplanation[] = [];
      for (const recipient of envelope.rcptTo) {
        const tried: TraceStep[] = [];
        const plan = toPlan(recipient, decide(recipient.address, ctx, MODE_ROUTE, tried));
        if (options.verbose) {
          const candidates = new Set(tried.map((step) => step.rule.index));
          for (const rule of index.rules) {
            if (candidates.has(rule.spec.index)) continue;
            tried.push({
              rule: rule.ref,
              tier: null,
              pattern: rule.spec.recipients.map((r) => r.source).join(', '),
              outcome: 'no-match',
              reason: `recipient '${formatRecipient(recipient.address)}' does not match ${rule.spec.recipients
                .map((r) => `'${r.source}'`)
                .join(', ')}`,
            });
          }
        }
        recipients.push({ plan, matched: plan.rules, tried });
      }
      return { recipients };
    },
  };
}

const ACCEPTED: AcceptDecision = Object.freeze({ accepted: true });
