import { type DnsServer, startDns, type Zone } from '@mailyard/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsResolver } from './dns-resolver.ts';
import { createMtaStsFetcher, mxMatchesPolicy, parseMtaStsPolicy } from './mta-sts.ts';

const POLICY =
  'version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.backup.test\r\nmax_age: 86400\r\n';

const servers: DnsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function resolverFor(zone: Zone) {
  const dns = await startDns(zone);
  servers.push(dns);
  return createDnsResolver({ servers: [dns.address], timeout: 3_000, tries: 1 });
}

/** An HTTPS stand-in that serves one policy file and counts requests. */
function policyServer(body: string, contentType = 'text/plain') {
  const urls: string[] = [];
  const fetch = async (url: string) => {
    urls.push(url);
    return new Response(body, { status: 200, headers: { 'content-type': contentType } });
  };
  return { fetch, urls };
}

describe('parseMtaStsPolicy', () => {
  it('parses mode, MX patterns and max_age', () => {
    expect(parseMtaStsPolicy(POLICY)).toEqual({
      mode: 'enforce',
      mx: ['mail.example.test', '*.backup.test'],
      maxAge: 86400,
    });
  });

  it('rejects a policy without version or with an unknown mode', () => {
    expect(parseMtaStsPolicy('mode: enforce\nmx: a.test\nmax_age: 1\n')).toBeNull();
    expect(parseMtaStsPolicy('version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n')).toBeNull();
  });
});

describe('mxMatchesPolicy', () => {
  const policy = { mode: 'enforce' as const, mx: ['mail.example.test', '*.backup.test'] };

  it('matches exact names case-insensitively', () => {
    expect(mxMatchesPolicy('MAIL.example.test.', policy)).toBe(true);
  });

  it('matches a wildcard for exactly one left-most label', () => {
    expect(mxMatchesPolicy('mx1.backup.test', policy)).toBe(true);
    expect(mxMatchesPolicy('a.mx1.backup.test', policy)).toBe(false);
    expect(mxMatchesPolicy('backup.test', policy)).toBe(false);
  });
});

describe('createMtaStsFetcher', () => {
  it('discovers the policy through TXT and fetches it over HTTPS', async () => {
    const resolver = await resolverFor({ '_mta-sts.example.test': { TXT: ['v=STSv1; id=20261129'] } });
    const web = policyServer(POLICY);
    const policy = await createMtaStsFetcher({ resolver, fetch: web.fetch })('example.test');
    expect(policy?.mode).toBe('enforce');
    expect(web.urls).toEqual(['https://mta-sts.example.test/.well-known/mta-sts.txt']);
  });

  it('uses the cached policy while the TXT id is unchanged', async () => {
    const resolver = await resolverFor({ '_mta-sts.example.test': { TXT: ['v=STSv1; id=1'] } });
    const web = policyServer(POLICY);
    const source = createMtaStsFetcher({ resolver, fetch: web.fetch });
    await source('example.test');
    await source('example.test');
    expect(web.urls).toHaveLength(1);
  });

  it('has no policy when the domain publishes no TXT record', async () => {
    const resolver = await resolverFor({});
    const web = policyServer(POLICY);
    expect(await createMtaStsFetcher({ resolver, fetch: web.fetch })('example.test')).toBeNull();
    expect(web.urls).toHaveLength(0);
  });

  it('ignores a policy served with the wrong content type', async () => {
    const resolver = await resolverFor({ '_mta-sts.example.test': { TXT: ['v=STSv1; id=1'] } });
    const web = policyServer(POLICY, 'text/html');
    expect(await createMtaStsFetcher({ resolver, fetch: web.fetch })('example.test')).toBeNull();
  });
});
