// Property-based tests: the router agrees with a naive model of the documented precedence
// (sort every matching rule by rank, then file order, and walk), file order only matters within
// a rank, and RCPT-time `accepts` agrees with `route`.
import { type Address, parseAddress } from '@mailyard/smtp';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules } from './compile-rules.ts';
import type { Router } from './router.ts';
import type { Facts } from './types.ts';

const DOMAINS = ['x.example', 'y.example'];
const LOCALS = ['a', 'b', 'ab', 'ba', 'a+t', 'b+u', 'ab+t'];
const SENDERS = [null, 's@s.example', 'r@other.example'];

interface Rule {
  recipient: string;
  sender?: string;
  clientIp?: string;
  auth?: { dmarc: string };
  forward?: string;
  reject?: true;
  webhook?: string;
  continue?: true;
}

const recipientPattern = fc.oneof(
  fc.tuple(fc.constantFrom('a', 'b', 'ab', 'a+t'), fc.constantFrom(...DOMAINS)).map(([l, d]) => `${l}@${d}`),
  fc.tuple(fc.constantFrom('a', 'b', 'ab'), fc.constantFrom(...DOMAINS)).map(([l, d]) => `${l}+*@${d}`),
  fc.constantFrom('a*@x.example', '*b@y.example', 'b*@*.example', '*@*'),
  fc.constantFrom('/^a.*@x\\.example$/', '/^(.)b@.*$/', '/^.*\\+t@.*$/'),
  fc.constantFrom(...DOMAINS).map((d) => `*@${d}`),
  fc.constant('*'),
);

function ruleArb(postData: boolean): fc.Arbitrary<Rule> {
  return fc
    .record({
      recipient: recipientPattern,
      sender: fc.option(fc.constantFrom('<>', 's@s.example', '*@s.example'), { nil: undefined }),
      clientIp: fc.option(fc.constant('10.0.0.0/8'), { nil: undefined }),
      dmarc: postData
        ? fc.option(fc.constantFrom('fail', 'pass'), { nil: undefined })
        : fc.constant(undefined),
      action: fc.constantFrom('forward', 'reject', 'webhook'),
    })
    .map(({ recipient, sender, clientIp, dmarc, action }) => {
      const rule: Rule = { recipient };
      if (sender !== undefined) rule.sender = sender;
      if (clientIp !== undefined) rule.clientIp = clientIp;
      if (dmarc !== undefined) rule.auth = { dmarc };
      if (action === 'forward') rule.forward = 'dest@home.example';
      else if (action === 'reject') rule.reject = true;
      else {
        rule.webhook = 'hook';
        rule.continue = true;
      }
      return rule;
    });
}

const factsArb = fc.record({
  clientIp: fc.constantFrom('10.1.2.3', '192.0.2.1'),
  authUser: fc.constant(null),
});

const rcptArb = fc
  .tuple(fc.constantFrom(...LOCALS), fc.constantFrom(...DOMAINS))
  .map(([l, d]) => `${l}@${d}`);

/** Ranks as documented: exact 0, subaddress 1, wildcard/regex 2, domain 3, everything 4. */
function rankOf(pattern: string): number {
  if (pattern === '*') return 4;
  if (pattern.startsWith('/')) return 2;
  const [local = '', domain = ''] = pattern.split('@');
  if (domain.includes('*')) return 2;
  if (local === '*') return 3;
  if (/^[^*+]+\+\*$/.test(local)) return 1;
  if (local.includes('*')) return 2;
  return 0;
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i');
}

function patternMatches(pattern: string, rcpt: string): boolean {
  const [local = '', domain = ''] = rcpt.split('@');
  if (pattern === '*') return true;
  if (pattern.startsWith('/')) return new RegExp(`^(?:${pattern.slice(1, -1)})$`, 'i').test(rcpt);
  const [pl = '', pd = ''] = pattern.split('@');
  if (rankOf(pattern) === 1) return pd === domain && local.startsWith(`${pl.slice(0, -1)}`);
  return globToRegExp(pl).test(local) && globToRegExp(pd).test(domain);
}

function conditionsHold(rule: Rule, from: string | null, facts: Facts): boolean {
  if (rule.sender !== undefined) {
    const ok =
      rule.sender === '<>'
        ? from === null
        : rule.sender.startsWith('*@')
          ? from?.endsWith(rule.sender.slice(1))
          : from === rule.sender;
    if (!ok) return false;
  }
  if (rule.clientIp !== undefined && !facts.clientIp?.startsWith('10.')) return false;
  if (rule.auth !== undefined && facts.auth?.dmarc !== rule.auth.dmarc) return false;
  return true;
}

/** The documented semantics, written the slow and obvious way. */
function model(rules: Rule[], rcpt: string, from: string | null, facts: Facts) {
  const order = rules
    .map((rule, index) => ({ rule, index, rank: rankOf(rule.recipient) }))
    .filter(({ rule }) => patternMatches(rule.recipient, rcpt))
    .sort((a, b) => a.rank - b.rank || a.index - b.index);
  const applied: number[] = [];
  for (const { rule, index } of order) {
    if (!conditionsHold(rule, from, facts)) continue;
    if (rule.reject) return { accepted: false, rules: [index] };
    applied.push(index);
    if (!rule.continue) break;
  }
  return { accepted: applied.length > 0, rules: applied.length > 0 ? applied : [] };
}

function compile(rules: Rule[]): Router {
  const result = compileRules({ rules });
  if (!result.ok) {
    // Random rule sets may contain exact duplicates, which are an error by design.
    throw new DuplicateConfig();
  }
  return result.router;
}
class DuplicateConfig extends Error {}

function routeOf(router: Router, rcpt: string, from: string | null, facts: Facts) {
  const plan = router.route(
    {
      mailFrom: from === null ? null : parseAddress(from),
      rcptTo: [{ address: parseAddress(rcpt) }],
      params: {},
    },
    facts,
  ).recipients[0]!;
  return { accepted: plan.accepted, rules: plan.rules.map((r) => r.index) };
}

const sender = (from: string | null): Address | null => (from === null ? null : parseAddress(from));

function compiles(rules: Rule[]): Router | null {
  try {
    return compile(rules);
  } catch (error) {
    if (error instanceof DuplicateConfig) return null;
    throw error;
  }
}

describe('router properties', () => {
  it('routes every recipient as the naive precedence model does', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(true), { maxLength: 12 }),
        fc.array(rcptArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...SENDERS),
        factsArb,
        fc.option(fc.constantFrom('fail', 'pass'), { nil: undefined }),
        (rules, rcpts, from, facts, dmarc) => {
          const router = compiles(rules);
          fc.pre(router !== null);
          const allFacts: Facts = dmarc === undefined ? facts : { ...facts, auth: { dmarc } };
          for (const rcpt of rcpts) {
            expect(routeOf(router!, rcpt, from, allFacts)).toEqual(model(rules, rcpt, from, allFacts));
          }
          // explain walks every candidate (no shortcut) and must reach the same plans.
          const envelope = {
            mailFrom: sender(from),
            rcptTo: rcpts.map((r) => ({ address: parseAddress(r) })),
            params: {},
          };
          expect(router!.explain(envelope, allFacts).recipients.map((e) => e.plan)).toEqual(
            router!.route(envelope, allFacts).recipients,
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('gives the same decisions when rules of different ranks are reordered', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(false), { maxLength: 12 }),
        fc.array(rcptArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...SENDERS),
        factsArb,
        (rules, rcpts, from, facts) => {
          const original = compiles(rules);
          fc.pre(original !== null);
          // Stable sort by rank, weakest first: file order changes, order within a rank does not.
          const reordered = rules
            .map((rule, index) => ({ rule, index }))
            .sort((a, b) => rankOf(b.rule.recipient) - rankOf(a.rule.recipient) || a.index - b.index);
          const router = compile(reordered.map((r) => r.rule));
          for (const rcpt of rcpts) {
            const before = routeOf(original!, rcpt, from, facts);
            const after = routeOf(router, rcpt, from, facts);
            expect(after.accepted).toBe(before.accepted);
            expect(after.rules.map((i) => reordered[i]!.index)).toEqual(before.rules);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lets an unconditional exact rule decide for its address wherever it is written', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(false), { maxLength: 10 }),
        rcptArb,
        fc.nat(),
        fc.constantFrom(...SENDERS),
        factsArb,
        (rules, rcpt, at, from, facts) => {
          const exactOthers = rules.filter((r) => r.recipient.toLowerCase() === rcpt);
          fc.pre(exactOthers.length === 0);
          const position = at % (rules.length + 1);
          const withExact = [...rules];
          withExact.splice(position, 0, { recipient: rcpt, forward: 'winner@home.example' });
          const router = compiles(withExact);
          fc.pre(router !== null);
          expect(routeOf(router!, rcpt, from, facts)).toEqual({ accepted: true, rules: [position] });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts at RCPT time exactly when route accepts, once every fact is known', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(false), { maxLength: 12 }),
        rcptArb,
        fc.constantFrom(...SENDERS),
        factsArb,
        (rules, rcpt, from, facts) => {
          const router = compiles(rules);
          fc.pre(router !== null);
          const accepted = router!.accepts(parseAddress(rcpt), { ...facts, mailFrom: sender(from) }).accepted;
          expect(accepted).toBe(routeOf(router!, rcpt, from, facts).accepted);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never refuses at RCPT time a recipient that route accepts once DATA facts are known', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(true), { maxLength: 12 }),
        rcptArb,
        fc.constantFrom(...SENDERS),
        factsArb,
        fc.constantFrom('fail', 'pass', 'none'),
        (rules, rcpt, from, facts, dmarc) => {
          const router = compiles(rules);
          fc.pre(router !== null);
          const atRcpt = router!.accepts(parseAddress(rcpt), { ...facts, mailFrom: sender(from) });
          const afterData = routeOf(router!, rcpt, from, { ...facts, auth: { dmarc } });
          if (afterData.accepted) expect(atRcpt.accepted).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  // With several rules on the same unknown fact, `accepts` may keep open a combination no real
  // message has (it is sound, not complete); with one such rule it is exact.
  it('refuses at RCPT time exactly when every DATA outcome refuses, with one rule on DATA facts', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(true), { maxLength: 12 }),
        rcptArb,
        fc.constantFrom(...SENDERS),
        factsArb,
        (rules, rcpt, from, facts) => {
          fc.pre(rules.filter((r) => r.auth !== undefined).length <= 1);
          const router = compiles(rules);
          fc.pre(router !== null);
          const atRcpt = router!.accepts(parseAddress(rcpt), { ...facts, mailFrom: sender(from) });
          const worlds = ['fail', 'pass', 'none'].map((dmarc) =>
            routeOf(router!, rcpt, from, { ...facts, auth: { dmarc } }),
          );
          expect(atRcpt.accepted).toBe(worlds.some((w) => w.accepted));
        },
      ),
      { numRuns: 400 },
    );
  });
});
