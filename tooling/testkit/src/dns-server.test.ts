import { Resolver } from 'node:dns/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type DnsServer, startDns } from './dns-server.ts';

const servers: DnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A generous timeout (a loaded machine may be slow), or a short one to test silence. */
async function setup(zone: Parameters<typeof startDns>[0], timeout = 3_000) {
  const dns = await startDns(zone);
  servers.push(dns);
  const resolver = new Resolver({ timeout, tries: 1 });
  resolver.setServers([dns.address]);
  return { dns, resolver };
}

async function errorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

describe('startDns', () => {
  it('answers MX queries from the zone', async () => {
    const { resolver } = await setup({
      'example.test': {
        MX: [
          { priority: 10, exchange: 'mx1.example.test' },
          { priority: 20, exchange: 'mx2.example.test' },
        ],
      },
    });
    const records = await resolver.resolveMx('example.test');
    const plain = records.map(({ priority, exchange }) => ({ priority, exchange }));
    expect(plain.sort((a, b) => a.priority - b.priority)).toEqual([
      { priority: 10, exchange: 'mx1.example.test' },
      { priority: 20, exchange: 'mx2.example.test' },
    ]);
  });

  it('answers a null MX as the root name', async () => {
    const { resolver } = await setup({ 'null.test': { MX: [{ priority: 0, exchange: '.' }] } });
    const records = await resolver.resolveMx('null.test');
    expect(records.map(({ priority, exchange }) => ({ priority, exchange }))).toEqual([
      { priority: 0, exchange: '' },
    ]);
  });

  it('answers A and AAAA queries', async () => {
    const { resolver } = await setup({
      'host.test': { A: ['192.0.2.1', '192.0.2.2'], AAAA: ['2001:db8::1'] },
    });
    expect((await resolver.resolve4('host.test')).sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(await resolver.resolve6('host.test')).toEqual(['2001:db8::1']);
  });

  it('follows a CNAME inside the zone', async () => {
    const { resolver } = await setup({
      'alias.test': { CNAME: 'target.test' },
      'target.test': { A: ['192.0.2.7'] },
    });
    expect(await resolver.resolve4('alias.test')).toEqual(['192.0.2.7']);
    expect(await resolver.resolveCname('alias.test')).toEqual(['target.test']);
  });

  it('splits TXT strings longer than 255 octets into several character-strings', async () => {
    const long = 'v=DKIM1; p='.padEnd(300, 'A');
    const { resolver } = await setup({ 'txt.test': { TXT: [long, ['a', 'b']] } });
    const records = await resolver.resolveTxt('txt.test');
    const split = records.find((r) => r.join('') === long);
    expect(split?.map((s) => s.length)).toEqual([255, 45]);
    expect(records).toContainEqual(['a', 'b']);
  });

  it('answers NS and PTR queries', async () => {
    const { resolver } = await setup({
      'zone.test': { NS: ['ns1.zone.test'] },
      '1.2.0.192.in-addr.arpa': { PTR: ['host.zone.test'] },
    });
    expect(await resolver.resolveNs('zone.test')).toEqual(['ns1.zone.test']);
    expect(await resolver.reverse('192.0.2.1')).toEqual(['host.zone.test']);
  });

  it('answers NXDOMAIN for a name outside the zone', async () => {
    const { resolver } = await setup({});
    expect(await errorCode(resolver.resolveMx('missing.test'))).toBe('ENOTFOUND');
  });

  it('answers NODATA for a type the name does not have', async () => {
    const { resolver } = await setup({ 'host.test': { A: ['192.0.2.1'] } });
    expect(await errorCode(resolver.resolveMx('host.test'))).toBe('ENODATA');
  });

  it('answers SERVFAIL on demand', async () => {
    const { resolver } = await setup({ 'broken.test': { failure: 'SERVFAIL' } });
    expect(await errorCode(resolver.resolveMx('broken.test'))).toBe('ESERVFAIL');
  });

  it('answers NXDOMAIN on demand', async () => {
    const { resolver } = await setup({ 'gone.test': { failure: 'NXDOMAIN', A: ['192.0.2.1'] } });
    expect(await errorCode(resolver.resolve4('gone.test'))).toBe('ENOTFOUND');
  });

  it('stays silent on demand so the client times out', async () => {
    const { dns, resolver } = await setup({ 'slow.test': { failure: 'timeout' } }, 300);
    expect(await errorCode(resolver.resolve4('slow.test'))).toBe('ETIMEOUT');
    expect(dns.queries.some((q) => q.name === 'slow.test')).toBe(true);
  });

  it('answers over TCP when the answer is too large for UDP', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `record-${i}-`.padEnd(100, 'x'));
    const { dns, resolver } = await setup({ 'big.test': { TXT: many } });
    const records = await resolver.resolveTxt('big.test');
    expect(records).toHaveLength(40);
    expect(dns.queries.filter((q) => q.name === 'big.test').map((q) => q.transport)).toContain('tcp');
  });

  it('logs every query with its name and type', async () => {
    const { dns, resolver } = await setup({ 'Log.Test': { A: ['192.0.2.1'] } });
    await resolver.resolve4('log.test');
    expect(dns.queries).toEqual([{ name: 'log.test', type: 'A', transport: 'udp' }]);
  });

  it('serves the new records after update and setZone', async () => {
    const { dns, resolver } = await setup({ 'a.test': { A: ['192.0.2.1'] } });
    dns.update('a.test', { A: ['192.0.2.9'] });
    expect(await resolver.resolve4('a.test')).toEqual(['192.0.2.9']);
    dns.setZone({ 'b.test': { A: ['192.0.2.3'] } });
    expect(await errorCode(resolver.resolve4('a.test'))).toBe('ENOTFOUND');
    expect(await resolver.resolve4('b.test')).toEqual(['192.0.2.3']);
  });

  it('answers from a wildcard entry', async () => {
    const { resolver } = await setup({ '*.wild.test': { A: ['192.0.2.5'] } });
    expect(await resolver.resolve4('any.wild.test')).toEqual(['192.0.2.5']);
  });
});
