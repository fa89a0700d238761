import { type Address, type Envelope, parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { compileRules } from './compile-rules.ts';
import { formatAction } from './format-explanation.ts';
import type { Router } from './router.ts';
import type { Facts, RecipientPlan } from './types.ts';

function router(rules: unknown[]): Router {
  const result = compileRules({ rules });
  if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
  return result.router;
}

const addr = (text: string): Address => parseAddress(text);

function envelope(
  to: string | string[],
  from: string | null = 'sender@example.org',
  size?: number,
): Envelope {
  return {
    mailFrom: from === null ? null : addr(from),
    rcptTo: (Array.isArray(to) ? to : [to]).map((t) => ({ address: addr(t) })),
    params: size === undefined ? {} : { size },
  };
}

function planFor(
  r: Router,
  to: string,
  facts: Facts = {},
  from: string | null = 'sender@example.org',
): RecipientPlan {
  return r.route(envelope(to, from), facts).recipients[0]!;
}

function outcome(
  r: Router,
  to: string,
  facts: Facts = {},
  from: string | null = 'sender@example.org',
): string {
  return planFor(r, to, facts, from).actions.map(formatAction).join('; ');
}

describe('recipient matchers', () => {
  const r = router([
    { recipient: 'alice@example.com', forward: 'exact@home.example' },
    { recipient: 'alice+*@example.com', forward: 'tag-$1@home.example' },
    { recipient: 'sales-*@example.com', forward: '$1@sales.example' },
    { recipient: '/^(.+)\\.ops@example\\.com$/', forward: '$1@ops.example' },
    { recipient: '*@example.com', forward: 'domain@home.example' },
    { recipient: '*@*.example.net', forward: 'sub-$2@home.example' },
    { recipient: '*', reject: { code: 550, enhanced: '5.7.1', text: 'Relay access denied' } },
  ]);

  it('matches an exact address case-insensitively in the local part', () => {
    expect(outcome(r, 'Alice@EXAMPLE.com')).toBe('forward to exact@home.example');
  });

  it('matches a subaddress and captures the tag', () => {
    expect(outcome(r, 'alice+Shop@example.com')).toBe('forward to tag-Shop@home.example');
  });

  it('matches a wildcard and captures what the star covered', () => {
    expect(outcome(r, 'sales-emea@example.com')).toBe('forward to emea@sales.example');
  });

  it('matches a regex against the whole address and captures its groups', () => {
    expect(outcome(r, 'jane.ops@example.com')).toBe('forward to jane@ops.example');
    expect(outcome(r, 'jane.ops.x@example.com')).toBe('forward to domain@home.example');
  });

  it('matches the domain catch-all for any other local part', () => {
    expect(outcome(r, 'bob@example.com')).toBe('forward to domain@home.example');
  });

  it('lets a star in the domain match subdomains and capture them', () => {
    expect(outcome(r, 'x@eu.example.net')).toBe('forward to sub-eu@home.example');
    expect(outcome(r, 'x@example.net')).toBe('reject 550 5.7.1 Relay access denied');
  });

  it('falls back to the everything rule, then to 550 5.1.1 when there is none', () => {
    expect(planFor(r, 'x@elsewhere.example')).toMatchObject({ accepted: false });
    const empty = router([{ recipient: 'a@example.com', deliver: true }]);
    const plan = planFor(empty, 'b@example.com');
    expect(plan.accepted).toBe(false);
    expect(plan.actions[0]).toMatchObject({ type: 'reject', error: { code: 550, enhanced: '5.1.1' } });
  });

  it('does not let the subaddress rule match the bare address', () => {
    const only = router([{ recipient: 'alice+*@example.com', deliver: true }]);
    expect(planFor(only, 'alice@example.com').accepted).toBe(false);
  });

  it('does not let a domain catch-all match a subdomain', () => {
    const only = router([{ recipient: '*@example.com', deliver: true }]);
    expect(planFor(only, 'a@sub.example.com').accepted).toBe(false);
  });

  it('matches a list of recipient patterns', () => {
    const list = router([{ recipient: ['a@example.com', 'b@example.com'], forward: 'x@home.example' }]);
    expect(planFor(list, 'b@example.com').accepted).toBe(true);
    expect(planFor(list, 'c@example.com').accepted).toBe(false);
  });

  it('treats a capture that makes no valid address as no match and falls through', () => {
    const bad = router([
      { recipient: '/^(.*)@example\\.com$/', forward: '$1@home.example' },
      { recipient: '*@example.com', forward: 'fallback@home.example' },
    ]);
    expect(outcome(bad, '"a b"@example.com')).toBe('forward to fallback@home.example');
  });
});

describe('precedence', () => {
  it('exact beats subaddress beats wildcard beats domain, whatever the file order', () => {
    const r = router([
      { recipient: '*', forward: 'any@x.example' },
      { recipient: '*@example.com', forward: 'domain@x.example' },
      { recipient: 'alice*@example.com', forward: 'wild@x.example' },
      { recipient: 'alice+*@example.com', forward: 'sub@x.example' },
      { recipient: 'alice+news@example.com', forward: 'exact@x.example' },
    ]);
    expect(outcome(r, 'alice+news@example.com')).toBe('forward to exact@x.example');
    expect(outcome(r, 'alice+shop@example.com')).toBe('forward to sub@x.example');
    expect(outcome(r, 'alice2@example.com')).toBe('forward to wild@x.example');
    expect(outcome(r, 'bob@example.com')).toBe('forward to domain@x.example');
    expect(outcome(r, 'bob@other.example')).toBe('forward to any@x.example');
  });

  it('decides among wildcards and regexes by file order', () => {
    const regexFirst = router([
      { recipient: '/^sales-.*@example\\.com$/', forward: 'regex@x.example' },
      { recipient: 'sales-*@example.com', forward: 'wild@x.example' },
    ]);
    expect(outcome(regexFirst, 'sales-1@example.com')).toBe('forward to regex@x.example');
    const wildFirst = router([
      { recipient: 'sales-*@example.com', forward: 'wild@x.example' },
      { recipient: '/^sales-.*@example\\.com$/', forward: 'regex@x.example' },
    ]);
    expect(outcome(wildFirst, 'sales-1@example.com')).toBe('forward to wild@x.example');
  });

  it('decides between an indexed and a domain-free wildcard by file order', () => {
    const r = router([
      { recipient: 'postmaster@*', forward: 'pm@x.example' },
      { recipient: 'post*@example.com', forward: 'post@x.example' },
    ]);
    expect(outcome(r, 'postmaster@example.com')).toBe('forward to pm@x.example');
    expect(outcome(r, 'postbox@example.com')).toBe('forward to post@x.example');
  });

  it('passes over a rule whose condition fails and tries the next', () => {
    const r = router([
      { recipient: 'a@example.com', sender: '*@spam.example', drop: true },
      { recipient: 'a@example.com', forward: 'a@home.example' },
    ]);
    expect(outcome(r, 'a@example.com', {}, 'x@spam.example')).toBe('drop (accept and discard)');
    expect(outcome(r, 'a@example.com', {}, 'x@ok.example')).toBe('forward to a@home.example');
  });

  it('collects actions of continue rules in precedence order until one stops', () => {
    const r = router([
      { recipient: '*', webhook: 'weak', continue: true },
      { recipient: '*@example.com', forward: 'domain@x.example' },
      { recipient: 'a@example.com', webhook: 'strong', continue: true },
    ]);
    const plan = planFor(r, 'a@example.com');
    expect(plan.actions.map(formatAction)).toEqual(["webhook 'strong'", 'forward to domain@x.example']);
    expect(plan.rules.map((ref) => ref.index)).toEqual([2, 1]);
  });

  it('accepts with only the actions of continue rules when no rule stops', () => {
    const r = router([{ recipient: '*', webhook: 'audit', continue: true }]);
    expect(planFor(r, 'a@example.com')).toMatchObject({ accepted: true, actions: [{ type: 'webhook' }] });
  });

  it('lets a reject after continue rules refuse the recipient and drop the collected actions', () => {
    const r = router([
      { recipient: 'a@example.com', webhook: 'audit', continue: true },
      { recipient: '*@example.com', reject: { code: 450, enhanced: '4.2.1', text: 'Mailbox busy' } },
    ]);
    const plan = planFor(r, 'a@example.com');
    expect(plan.accepted).toBe(false);
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]).toMatchObject({ type: 'reject', error: { code: 450, enhanced: '4.2.1' } });
  });

  it('evaluates a rule listed under two patterns once', () => {
    const r = router([{ recipient: ['a@example.com', '*@example.com'], webhook: 'w', continue: true }]);
    expect(planFor(r, 'a@example.com').actions).toHaveLength(1);
  });
});

describe('conditions', () => {
  it('matches the sender by address, domain, wildcard and the null sender', () => {
    const r = router([
      { recipient: '*', sender: 'boss@corp.example', forward: 'boss@x.example' },
      { recipient: '*', sender: '<>', forward: 'bounces@x.example' },
      { recipient: '*', sender: '*@corp.example', forward: 'corp@x.example' },
      { recipient: '*', sender: 'news-*@*', forward: 'news@x.example' },
      { recipient: '*', drop: true },
    ]);
    expect(outcome(r, 'a@example.com', {}, 'Boss@corp.example')).toBe('forward to boss@x.example');
    expect(outcome(r, 'a@example.com', {}, null)).toBe('forward to bounces@x.example');
    expect(outcome(r, 'a@example.com', {}, 'anyone@corp.example')).toBe('forward to corp@x.example');
    expect(outcome(r, 'a@example.com', {}, 'news-daily@paper.example')).toBe('forward to news@x.example');
    expect(outcome(r, 'a@example.com', {}, 'x@else.example')).toBe('drop (accept and discard)');
  });

  it('matches the client IP against IPv4 and IPv6 prefixes', () => {
    const r = router([
      { recipient: '*', clientIp: ['192.0.2.0/24', '2001:db8::/32'], relay: 'out' },
      { recipient: '*', reject: true },
    ]);
    expect(outcome(r, 'a@example.net', { clientIp: '192.0.2.9' })).toBe("relay via smarthost 'out'");
    expect(outcome(r, 'a@example.net', { clientIp: '2001:db8:1::5' })).toBe("relay via smarthost 'out'");
    expect(outcome(r, 'a@example.net', { clientIp: '198.51.100.1' })).toMatch(/^reject 550 5\.7\.1/);
    expect(outcome(r, 'a@example.net', { clientIp: 'garbage' })).toMatch(/^reject/);
  });

  it('matches authentication and the authenticated user', () => {
    const r = router([
      { recipient: '*', authUser: 'Alice', relay: 'alice-host' },
      { recipient: '*', authenticated: true, deliver: true },
      {
        recipient: '*',
        authenticated: false,
        reject: { code: 554, enhanced: '5.7.1', text: 'Relay denied' },
      },
    ]);
    expect(outcome(r, 'x@example.net', { authUser: 'alice' })).toBe("relay via smarthost 'alice-host'");
    expect(outcome(r, 'x@example.net', { authUser: 'bob' })).toBe('deliver (MX of the recipient domain)');
    expect(outcome(r, 'x@example.net', { authUser: null })).toBe('reject 554 5.7.1 Relay denied');
  });

  it('matches the message size from the facts or the declared SIZE', () => {
    const r = router([
      { recipient: '*', size: { min: 1_000_001 }, reject: { code: 552, enhanced: '5.3.4', text: 'Too big' } },
      { recipient: '*', deliver: true },
    ]);
    expect(outcome(r, 'a@example.com', { size: 2_000_000 })).toBe('reject 552 5.3.4 Too big');
    expect(outcome(r, 'a@example.com', { size: 10 })).toBe('deliver (MX of the recipient domain)');
    expect(r.route(envelope('a@example.com', 'x@y.example', 5_000_000)).recipients[0]?.accepted).toBe(false);
  });

  it('matches verdicts after DATA, e.g. DMARC fail', () => {
    const r = router([
      { recipient: '*@example.com', auth: { dmarc: 'fail' }, hold: 'dmarc failed' },
      { recipient: '*@example.com', forward: 'a@home.example' },
    ]);
    expect(outcome(r, 'a@example.com', { auth: { dmarc: 'fail' } })).toBe('hold (dmarc failed)');
    expect(outcome(r, 'a@example.com', { auth: { dmarc: 'pass' } })).toBe('forward to a@home.example');
    expect(outcome(r, 'a@example.com', {})).toBe('forward to a@home.example');
  });

  it('matches header fields by equality, substring, regex and presence', () => {
    const r = router([
      { recipient: '*', headers: [{ name: 'List-Id', contains: 'announce' }], forward: 'list@x.example' },
      { recipient: '*', headers: [{ name: 'X-Spam-Flag', equals: 'YES' }], drop: true },
      { recipient: '*', headers: [{ name: 'Subject', regex: '^\\[ticket #[0-9]+\\]' }], webhook: 'tickets' },
      { recipient: '*', headers: [{ name: 'Auto-Submitted', present: false }], deliver: true },
      { recipient: '*', hold: true },
    ]);
    const h = (...pairs: [string, string][]): Facts => ({ headers: pairs });
    expect(outcome(r, 'a@example.com', h(['list-id', '<Announce.example.com>']))).toBe(
      'forward to list@x.example',
    );
    expect(outcome(r, 'a@example.com', h(['X-Spam-Flag', ' yes ']))).toBe('drop (accept and discard)');
    expect(outcome(r, 'a@example.com', h(['Subject', '[Ticket #42] help']))).toBe("webhook 'tickets'");
    expect(outcome(r, 'a@example.com', h(['Subject', 'hi']))).toBe('deliver (MX of the recipient domain)');
    expect(outcome(r, 'a@example.com', h(['Auto-Submitted', 'auto-replied']))).toBe('hold');
  });
});

describe('actions', () => {
  it('forwards to several destinations with captures and the tag carried over', () => {
    const r = router([
      {
        recipient: 'team-*@example.com',
        forward: ['$1@home.example', 'archive@home.example'],
        keepTag: true,
      },
    ]);
    expect(outcome(r, 'team-red+urgent@example.com')).toBe(
      'forward to red+urgent+urgent@home.example, archive+urgent@home.example',
    );
    expect(outcome(r, 'team-blue@example.com')).toBe('forward to blue@home.example, archive@home.example');
  });

  it('plans every kind of action in a fixed order', () => {
    const r = router([{ recipient: '*', forward: 'f@x.example', deliver: true, relay: 'r', webhook: 'w' }]);
    expect(planFor(r, 'a@example.com').actions.map((a) => a.type)).toEqual([
      'forward',
      'deliver',
      'relay',
      'webhook',
    ]);
  });

  it('returns one plan per recipient, in envelope order', () => {
    const r = router([
      { recipient: 'a@example.com', deliver: true },
      { recipient: 'b@example.com', drop: true },
    ]);
    const plan = r.route(envelope(['b@example.com', 'c@example.com', 'a@example.com']));
    expect(plan.recipients.map((p) => [p.recipient.address.localPart, p.accepted])).toEqual([
      ['b', true],
      ['c', false],
      ['a', true],
    ]);
  });

  it('hands out plans that cannot be changed by the caller', () => {
    const r = router([{ recipient: 'a@example.com', forward: 'x@home.example' }]);
    const actions = planFor(r, 'a@example.com').actions as unknown[];
    expect(() => actions.push({ type: 'drop' })).toThrow(TypeError);
    expect(planFor(r, 'a@example.com').actions).toHaveLength(1);
  });
});

describe('accepts (RCPT time)', () => {
  const mailFrom = addr('s@sender.example');

  it('refuses an unknown recipient with 550 5.1.1', () => {
    const r = router([{ recipient: 'a@example.com', deliver: true }]);
    const decision = r.accepts(addr('b@example.com'), { mailFrom });
    expect(decision).toMatchObject({ accepted: false, error: { code: 550, enhanced: '5.1.1' }, rule: null });
  });

  it("refuses with the matching reject rule's reply", () => {
    const r = router([{ recipient: '*', reject: { code: 451, enhanced: '4.7.1', text: 'Try later' } }]);
    const decision = r.accepts({ address: addr('b@example.com') }, { mailFrom });
    expect(decision).toMatchObject({ accepted: false, error: { code: 451 }, rule: { index: 0 } });
  });

  it('accepts when a rule that needs post-DATA facts could still accept', () => {
    const r = router([
      { recipient: '*@example.com', auth: { dmarc: 'pass' }, forward: 'a@home.example' },
      { recipient: '*@example.com', reject: true },
    ]);
    expect(r.accepts(addr('a@example.com'), { mailFrom }).accepted).toBe(true);
    expect(planFor(r, 'a@example.com', { auth: { dmarc: 'fail' } }).accepted).toBe(false);
  });

  it('refuses when every open outcome refuses, even with unknown facts', () => {
    const r = router([
      {
        recipient: '*@example.com',
        auth: { dmarc: 'fail' },
        reject: { code: 550, enhanced: '5.7.1', text: 'DMARC' },
      },
      { recipient: '*@example.com', reject: { code: 550, enhanced: '5.1.1', text: 'No' } },
    ]);
    // The reply is the certain one (rule 1), not the DMARC rule whose verdict is not known yet.
    expect(r.accepts(addr('a@example.com'), { mailFrom })).toMatchObject({
      accepted: false,
      rule: { index: 1 },
    });
  });

  it('uses the declared size when given and keeps the rule open when not', () => {
    const r = router([
      { recipient: '*', size: { max: 1000 }, deliver: true },
      { recipient: '*', reject: true },
    ]);
    expect(r.accepts(addr('a@example.com'), { mailFrom, size: 5000 }).accepted).toBe(false);
    expect(r.accepts(addr('a@example.com'), { mailFrom, size: 10 }).accepted).toBe(true);
    expect(r.accepts(addr('a@example.com'), { mailFrom }).accepted).toBe(true);
  });
});

describe('explain', () => {
  const result = compileRules(
    [
      'rules:',
      '  - name: spam trap',
      '    recipient: alice@example.com',
      "    sender: '*@spam.example'",
      '    drop: true',
      '  - name: alice',
      '    recipient: alice@example.com',
      '    forward: alice@home.example',
      "  - recipient: '*@example.com'",
      '    reject: true',
      "  - recipient: 'zed@example.org'",
      '    deliver: true',
    ].join('\n'),
  );
  if (!result.ok) throw new Error('bad config');
  const r = result.router;

  it('names the rule that matched with its position in the file', () => {
    const explanation = r.explain(envelope('alice@example.com'));
    expect(explanation.recipients[0]?.matched).toEqual([{ index: 1, name: 'alice', line: 6, column: 5 }]);
  });

  it('lists the rules tried in precedence order with the reason each did not apply', () => {
    const tried = r.explain(envelope('alice@example.com')).recipients[0]?.tried ?? [];
    expect(tried.map((t) => [t.rule.index, t.tier, t.outcome])).toEqual([
      [0, 'exact', 'no-match'],
      [1, 'exact', 'matched'],
      [2, 'domain', 'not-reached'],
    ]);
    expect(tried[0]?.reason).toBe("sender 'sender@example.org' is not '*@spam.example'");
    expect(tried[2]?.reason).toContain("rules[1] 'alice' stopped evaluation");
  });

  it('lists the rules whose recipient pattern did not match when asked for verbose output', () => {
    const tried = r.explain(envelope('bob@example.com'), {}, { verbose: true }).recipients[0]?.tried ?? [];
    expect(tried.map((t) => [t.rule.index, t.outcome])).toEqual([
      [2, 'matched'],
      [0, 'no-match'],
      [1, 'no-match'],
      [3, 'no-match'],
    ]);
    expect(tried[3]?.reason).toBe("recipient 'bob@example.com' does not match 'zed@example.org'");
  });

  it('gives the same plan as route', () => {
    const env = envelope(['alice@example.com', 'bob@example.com', 'x@else.example']);
    expect(r.explain(env).recipients.map((e) => e.plan)).toEqual(r.route(env).recipients);
  });
});
