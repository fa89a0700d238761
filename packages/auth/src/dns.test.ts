import { describe, expect, it } from 'vitest';
import { createStaticResolver, type Resolver, withDnsBudget } from './dns.ts';

const zone = createStaticResolver({ 'example.org': { TXT: ['v=spf1 -all'] } });
const never: Resolver = () => new Promise(() => {});

describe('withDnsBudget', () => {
  it('passes answers and errors of the wrapped resolver through within the budget', async () => {
    using budget = withDnsBudget(zone, 10_000);
    await expect(budget.resolver('example.org', 'TXT')).resolves.toEqual([['v=spf1 -all']]);
    await expect(budget.resolver('missing.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(budget.exhausted()).toBe(false);
    expect(budget.lookups()).toBe(2);
  });

  it('cuts every lookup still in flight with ETIMEOUT when the budget ends', async () => {
    using budget = withDnsBudget(never, 50);
    const first = budget.resolver('a.example', 'TXT');
    const second = budget.resolver('b.example', 'MX');
    await expect(first).rejects.toMatchObject({ code: 'ETIMEOUT', hostname: 'a.example' });
    await expect(second).rejects.toMatchObject({ code: 'ETIMEOUT', hostname: 'b.example' });
    expect(budget.exhausted()).toBe(true);
  });

  it('refuses lookups after the budget has run out', async () => {
    using budget = withDnsBudget(zone, 0);
    await expect(budget.resolver('example.org', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    expect(budget.exhausted()).toBe(true);
  });

  it('refuses lookups beyond the lookup limit', async () => {
    using budget = withDnsBudget(zone, 10_000, 1);
    await expect(budget.resolver('example.org', 'TXT')).resolves.toHaveLength(1);
    await expect(budget.resolver('example.org', 'TXT')).rejects.toMatchObject({ code: 'ETIMEOUT' });
    expect(budget.exhausted()).toBe(true);
  });

  it('turns a resolver that throws synchronously into a rejected lookup', async () => {
    const throwing: Resolver = () => {
      throw new Error('broken resolver');
    };
    using budget = withDnsBudget(throwing, 10_000);
    await expect(budget.resolver('example.org', 'TXT')).rejects.toThrow('broken resolver');
  });

  it('stops its timer on close, so a lookup outliving the verification is not cut', async () => {
    let answer: (value: unknown[]) => void = () => {};
    const slow: Resolver = () => new Promise((resolve) => (answer = resolve));
    const budget = withDnsBudget(slow, 30);
    const lookup = budget.resolver('example.org', 'TXT');
    budget.close();
    await new Promise((resolve) => setTimeout(resolve, 120));
    answer([['late']]);
    await expect(lookup).resolves.toEqual([['late']]);
    expect(budget.exhausted()).toBe(false);
  });
});
