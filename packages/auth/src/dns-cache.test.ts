import { describe, expect, it } from 'vitest';
import { dnsError, type Resolver } from './dns.ts';
import { createCachingResolver } from './dns-cache.ts';

function counting(answer: (name: string) => Promise<unknown[]>) {
  const asked: string[] = [];
  const resolver: Resolver = (name, type) => {
    asked.push(`${type} ${name}`);
    return answer(name);
  };
  return { asked, resolver };
}

describe('createCachingResolver', () => {
  it('answers repeated and concurrent questions from one lookup until the TTL passes', async () => {
    let clock = 0;
    const { asked, resolver } = counting(async () => [['v=spf1 -all']]);
    const cached = createCachingResolver(resolver, { ttlMs: 1000, now: () => clock });
    const answers = await Promise.all([cached('Example.org', 'TXT'), cached('example.org', 'TXT')]);
    expect(answers).toEqual([[['v=spf1 -all']], [['v=spf1 -all']]]);
    clock = 999;
    await cached('example.org', 'TXT');
    expect(asked).toEqual(['TXT Example.org']);
    clock = 1000;
    await cached('example.org', 'TXT');
    expect(asked).toHaveLength(2);
  });

  it('keeps negative answers but asks again after a temporary failure', async () => {
    const { asked, resolver } = counting(async (name) => {
      throw dnsError(name.startsWith('gone') ? 'ENOTFOUND' : 'ESERVFAIL', name, 'TXT');
    });
    const cached = createCachingResolver(resolver);
    for (let i = 0; i < 2; i++) {
      await expect(cached('gone.example', 'TXT')).rejects.toMatchObject({ code: 'ENOTFOUND' });
      await expect(cached('flaky.example', 'TXT')).rejects.toMatchObject({ code: 'ESERVFAIL' });
    }
    expect(asked).toEqual(['TXT gone.example', 'TXT flaky.example', 'TXT flaky.example']);
  });

  it('forgets the oldest question beyond maxEntries', async () => {
    const { asked, resolver } = counting(async () => []);
    const cached = createCachingResolver(resolver, { maxEntries: 2 });
    for (const name of ['a.test', 'b.test', 'c.test', 'a.test']) await cached(name, 'TXT');
    expect(asked).toEqual(['TXT a.test', 'TXT b.test', 'TXT c.test', 'TXT a.test']);
  });
});
