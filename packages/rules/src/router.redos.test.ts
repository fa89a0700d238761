// A malicious configuration cannot hang the router: regexes run on a linear-time engine and
// expensive ones are refused at compile time; rule count has no limit but memory.
import { parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { compileRules } from './compile-rules.ts';
import type { Router } from './router.ts';

const EVIL = ['(a+)+$', '(a|a)*$', '(.*a){20}', '(a|aa)+$', '([a-z]+)*$', '(\\w+\\s?)*$'];

function compiled(rules: unknown[]): Router {
  const result = compileRules({ rules });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.router;
}

describe('malicious configuration', () => {
  it('routes through classic ReDoS recipient regexes quickly', () => {
    const router = compiled([
      ...EVIL.map((source, i) => ({ recipient: `/${source}/`, forward: `r${i}@home.example` })),
      { recipient: '*', deliver: true },
    ]);
    // The longest local part SMTP allows (64 octets), built to make backtracking engines explode.
    const rcpt = parseAddress(`${'a'.repeat(63)}!@${'a'.repeat(60)}.example`);
    const start = performance.now();
    for (let i = 0; i < 20; i++) {
      router.route({ mailFrom: null, rcptTo: [{ address: rcpt }], params: {} });
    }
    // A backtracking engine needs 2^63 steps for one of these; the bound is generous for CI.
    expect(performance.now() - start).toBeLessThan(5_000);
  });

  it('routes through ReDoS header regexes on a 100 kB header quickly', () => {
    const router = compiled([
      ...EVIL.map((regex) => ({ recipient: '*', headers: [{ name: 'Subject', regex }], drop: true })),
      { recipient: '*', deliver: true },
    ]);
    const start = performance.now();
    const plan = router.route(
      { mailFrom: null, rcptTo: [{ address: parseAddress('x@example.com') }], params: {} },
      { headers: [['Subject', `${'a'.repeat(100_000)}!`]] },
    );
    expect(plan.recipients[0]?.accepted).toBe(true);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('refuses a regex whose cost would grow with its repetitions', () => {
    const result = compileRules({ rules: [{ recipient: '/(.*a){1000}/', deliver: true }] });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems[0]?.message).toMatch(/too expensive/);
  });

  it('compiles 50,000 rules and finds an exact address among them', () => {
    const rules = Array.from({ length: 50_000 }, (_, i) => ({
      recipient: `u${i}@d${i % 500}.example`,
      deliver: true,
    }));
    const router = compiled(rules);
    expect(router.size).toBe(50_000);
    const plan = router.route({
      mailFrom: null,
      rcptTo: [{ address: parseAddress('u49999@d499.example') }],
      params: {},
    });
    expect(plan.recipients[0]?.rules[0]?.index).toBe(49_999);
  });
});
