import { startDns } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { createResolver, createStaticResolver } from './dns.ts';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { checkSenderDomain } from './sender-check.ts';

const key = generateDkimKey({ type: 'ed25519' });
const other = generateDkimKey({ type: 'ed25519' });
const record = dkimDnsRecord({ domain: 'example.org', selector: 's1', key: key.privateKey });

const GOOD = {
  'example.org': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], MX: [{ priority: 10, exchange: 'mx.example.org' }] },
  [record.name]: { TXT: [record.value] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=quarantine'] },
  '_mta-sts.example.org': { TXT: ['v=STSv1; id=2026'] },
};

const byCheck = (report: Awaited<ReturnType<typeof checkSenderDomain>>) =>
  Object.fromEntries(
    report.checks.map((c) => [
      `${c.check}${c.ip ? ` ${c.ip}` : ''}${c.selector ? ` ${c.selector}` : ''}`,
      c.status,
    ]),
  );

describe('checkSenderDomain', () => {
  it('passes a domain whose SPF, DKIM key, DMARC, MX and MTA-STS are all in place (via a loopback DNS server)', async () => {
    await using dns = await startDns(GOOD);
    const report = await checkSenderDomain('example.org', {
      resolver: createResolver({ servers: [dns.address], timeoutMs: 2000 }),
      relayIps: ['192.0.2.10'],
      selectors: [{ selector: 's1', privateKey: key.privateKey }],
    });
    expect(byCheck(report)).toEqual({
      'spf 192.0.2.10': 'pass',
      'dkim s1': 'pass',
      dmarc: 'pass',
      mx: 'pass',
      'mta-sts': 'pass',
    });
    expect(report.ok).toBe(true);
  });

  it('fails a relay IP that SPF does not authorise', async () => {
    const report = await checkSenderDomain('example.org', {
      resolver: createStaticResolver(GOOD),
      relayIps: ['192.0.2.10', '198.51.100.1'],
      selectors: [],
    });
    expect(byCheck(report)['spf 198.51.100.1']).toBe('fail');
    expect(report.checks.find((c) => c.ip === '198.51.100.1')?.detail).toMatch(/ip4:198\.51\.100\.1/);
    expect(report.ok).toBe(false);
  });

  it('fails a selector whose published key is not our key, and one that is missing', async () => {
    const report = await checkSenderDomain('example.org', {
      resolver: createStaticResolver(GOOD),
      relayIps: [],
      selectors: [{ selector: 's1', privateKey: other.privateKey }, 'missing'],
    });
    expect(byCheck(report)).toMatchObject({ 'dkim s1': 'fail', 'dkim missing': 'fail' });
  });

  it('warns about p=none, no MX and no MTA-STS, and fails without DMARC', async () => {
    const monitoring = await checkSenderDomain('example.org', {
      resolver: createStaticResolver({
        ...GOOD,
        'example.org': { TXT: ['v=spf1 -all'] },
        '_mta-sts.example.org': {},
        '_dmarc.example.org': { TXT: ['v=DMARC1; p=none'] },
      }),
      relayIps: [],
      selectors: ['s1'],
    });
    expect(byCheck(monitoring)).toMatchObject({
      dmarc: 'warn',
      mx: 'warn',
      'mta-sts': 'warn',
      'dkim s1': 'pass',
    });
    expect(monitoring.ok).toBe(true);
    const none = await checkSenderDomain('example.org', {
      resolver: createStaticResolver({ ...GOOD, '_dmarc.example.org': {} }),
      relayIps: [],
      selectors: [],
    });
    expect(byCheck(none).dmarc).toBe('fail');
  });

  it('reports DNS trouble (SERVFAIL from the loopback server) as error, not fail', async () => {
    await using dns = await startDns({
      ...GOOD,
      [record.name]: { failure: 'SERVFAIL' },
      'example.org': { failure: 'SERVFAIL' },
    });
    const report = await checkSenderDomain('example.org', {
      resolver: createResolver({ servers: [dns.address], timeoutMs: 2000, tries: 1 }),
      relayIps: ['192.0.2.10'],
      selectors: ['s1'],
    });
    expect(byCheck(report)).toMatchObject({ 'spf 192.0.2.10': 'error', 'dkim s1': 'error' });
    expect(report.ok).toBe(false);
  });
});
