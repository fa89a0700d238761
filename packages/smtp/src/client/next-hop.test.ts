import { type DnsServer, startDns, type Zone } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsResolver } from './dns-resolver.ts';
import { resolveHostAddresses, resolveMxHosts } from './next-hop.ts';

const servers: DnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Generous timeouts for answers (a loaded machine may be slow); a short one to test silence. */
async function resolverFor(zone: Zone, timeout = 3_000) {
  const dns = await startDns(zone);
  servers.push(dns);
  return createDnsResolver({ servers: [dns.address], timeout, tries: 1 });
}

describe('resolveMxHosts', () => {
  it('orders MX hosts by preference', async () => {
    const resolver = await resolverFor({
      'example.test': {
        MX: [
          { priority: 30, exchange: 'c.example.test' },
          { priority: 10, exchange: 'A.example.test.' },
          { priority: 20, exchange: 'b.example.test' },
        ],
      },
    });
    const result = await resolveMxHosts('example.test', { resolver });
    expect(result.ok && result.hosts.map((h) => h.exchange)).toEqual([
      'a.example.test',
      'b.example.test',
      'c.example.test',
    ]);
  });

  it('orders hosts of equal preference at random', async () => {
    const resolver = await resolverFor({
      'example.test': {
        MX: [
          { priority: 10, exchange: 'a.example.test' },
          { priority: 10, exchange: 'b.example.test' },
          { priority: 10, exchange: 'c.example.test' },
          { priority: 5, exchange: 'first.example.test' },
        ],
      },
    });
    const seen = new Set<string>();
    for (const value of [0, 0.34, 0.67, 0.99]) {
      const result = await resolveMxHosts('example.test', { resolver, random: () => value });
      if (!result.ok) throw result.error;
      expect(result.hosts[0]?.exchange).toBe('first.example.test');
      seen.add(
        result.hosts
          .slice(1)
          .map((h) => h.exchange)
          .join(','),
      );
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('uses the domain itself as implicit MX when it has no MX records', async () => {
    const resolver = await resolverFor({ 'plain.test': { A: ['192.0.2.1'] } });
    expect(await resolveMxHosts('plain.test', { resolver })).toEqual({
      ok: true,
      hosts: [{ exchange: 'plain.test', priority: 0, implicit: true }],
    });
  });

  it('fails permanently with 556 5.1.10 on a null MX', async () => {
    const resolver = await resolverFor({ 'nomail.test': { MX: [{ priority: 0, exchange: '.' }] } });
    const result = await resolveMxHosts('nomail.test', { resolver });
    expect(!result.ok && [result.error.code, result.error.enhanced]).toEqual([556, '5.1.10']);
  });

  it('fails permanently when the domain does not exist', async () => {
    const resolver = await resolverFor({});
    const result = await resolveMxHosts('missing.test', { resolver });
    expect(!result.ok && [result.error.code, result.error.enhanced]).toEqual([550, '5.1.2']);
  });

  it('fails temporarily on SERVFAIL', async () => {
    const resolver = await resolverFor({ 'broken.test': { failure: 'SERVFAIL' } });
    const result = await resolveMxHosts('broken.test', { resolver });
    expect(!result.ok && [result.error.code, result.error.temporary]).toEqual([451, true]);
  });

  it('fails temporarily when the DNS server does not answer', async () => {
    const resolver = await resolverFor({ 'slow.test': { failure: 'timeout' } }, 300);
    const result = await resolveMxHosts('slow.test', { resolver });
    expect(!result.ok && result.error.temporary).toBe(true);
  });

  it('takes an address literal as the host without DNS', async () => {
    const resolver = await resolverFor({});
    expect(await resolveMxHosts('[192.0.2.9]', { resolver })).toEqual({
      ok: true,
      hosts: [{ exchange: '192.0.2.9', priority: 0, implicit: true }],
    });
  });
});

describe('resolveHostAddresses', () => {
  it('returns IPv4 then IPv6 addresses', async () => {
    const resolver = await resolverFor({ 'mx.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] } });
    expect(await resolveHostAddresses('mx.test', { resolver })).toEqual({
      ok: true,
      addresses: ['192.0.2.1', '2001:db8::1'],
    });
  });

  it('fails permanently for a host without addresses', async () => {
    const resolver = await resolverFor({ 'mx.test': { TXT: ['x'] } });
    const result = await resolveHostAddresses('mx.test', { resolver });
    expect(!result.ok && result.error.code).toBe(550);
  });

  it('fails temporarily when the lookup fails', async () => {
    const resolver = await resolverFor({ 'mx.test': { failure: 'SERVFAIL' } });
    const result = await resolveHostAddresses('mx.test', { resolver });
    expect(!result.ok && result.error.temporary).toBe(true);
  });
});
