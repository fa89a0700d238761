import { describe, expect, it } from 'vitest';
import { createStaticResolver, dnsError, type Resolver } from './dns.ts';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { signDkim } from './sign.ts';
import { verify } from './verify.ts';

const key = generateDkimKey({ type: 'ed25519' });
const record = dkimDnsRecord({ domain: 'example.org', selector: 'sel', key: key.privateKey });
const ZONE = {
  'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 include:spf.partner.test -all'] },
  'spf.partner.test': { TXT: ['v=spf1 ip4:198.51.100.7 -all'] },
  [record.name]: { TXT: [record.value] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject; adkim=r; aspf=r'] },
};
const MESSAGE = 'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nHello\r\n';
const envelope = { mailFrom: { localPart: 'alice', domain: 'example.org' } };
const base = { envelope, helo: 'mail.example.org', authservId: 'mx.example.net' };

/** The fixture zone, except that the named lookups fail with `code`. */
function failing(names: readonly string[], code = 'ESERVFAIL', zone = ZONE): Resolver {
  const inner = createStaticResolver(zone);
  return async (name, type) => {
    if (names.includes(name.toLowerCase())) throw dnsError(code, name, type);
    return inner(name, type);
  };
}

const signed = async () =>
  (await signDkim(MESSAGE, { domain: 'example.org', selector: 'sel', privateKey: key.privateKey })) + MESSAGE;

describe('verify', () => {
  it('passes SPF, DKIM and DMARC for an aligned, signed message from an authorised IP', async () => {
    const verdict = await verify(await signed(), {
      ...base,
      clientIp: '192.0.2.10',
      resolver: createStaticResolver(ZONE),
    });
    expect(verdict.spf).toMatchObject({ result: 'pass', domain: 'example.org', identity: 'mailfrom' });
    expect(verdict.dkim).toMatchObject([
      { result: 'pass', domain: 'example.org', selector: 'sel', algorithm: 'ed25519-sha256', aligned: true },
    ]);
    expect(verdict.dmarc).toMatchObject({
      result: 'pass',
      fromDomain: 'example.org',
      orgDomain: 'example.org',
      policy: 'reject',
    });
    expect(verdict.dmarc.alignment).toEqual({ spf: 'example.org', dkim: 'example.org' });
    expect(verdict.arc).toEqual({ result: 'none', instance: 0 });
    expect(verdict.dnsBudgetExhausted).toBe(false);
  });

  it('looks up SPF while DKIM looks up its key, not after', async () => {
    const inner = createStaticResolver(ZONE);
    let inFlight = 0;
    let most = 0;
    const resolver: Resolver = async (name, type) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      try {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return await inner(name, type);
      } finally {
        inFlight -= 1;
      }
    };
    const verdict = await verify(await signed(), { ...base, clientIp: '192.0.2.10', resolver });
    expect(verdict.spf.result).toBe('pass');
    expect(verdict.dkim[0]?.result).toBe('pass');
    expect(most).toBeGreaterThanOrEqual(2);
  });

  it('writes one RFC 8601 Authentication-Results field with every method for our authserv-id', async () => {
    const verdict = await verify(await signed(), {
      ...base,
      clientIp: '192.0.2.10',
      resolver: createStaticResolver(ZONE),
    });
    const header = verdict.authenticationResults;
    expect(header.startsWith('Authentication-Results: mx.example.net;\r\n')).toBe(true);
    const unfolded = header.replace(/\r\n[ \t]+/g, ' ');
    expect(unfolded).toMatch(/\bdkim=pass\b[^;]*header\.(?:i|d)=@?example\.org/);
    expect(unfolded).toMatch(/\bspf=pass\b[^;]*smtp\.mailfrom=/);
    expect(unfolded).toMatch(/\bdmarc=pass\b[^;]*header\.from=example\.org/);
    expect(header.endsWith('\r\n')).toBe(false);
    for (const line of header.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
    expect(verdict.authenticationResultsValue.startsWith('mx.example.net;')).toBe(true);
  });

  it('fails SPF and DMARC (policy reject) for an unsigned message from an unauthorised IP', async () => {
    const verdict = await verify(MESSAGE, {
      ...base,
      clientIp: '203.0.113.9',
      resolver: createStaticResolver(ZONE),
    });
    expect(verdict.spf.result).toBe('fail');
    expect(verdict.dkim).toEqual([]);
    expect(verdict.authenticationResults).toMatch(/dkim=none/);
    expect(verdict.dmarc).toMatchObject({
      result: 'fail',
      policy: 'reject',
      alignment: { spf: null, dkim: null },
    });
  });

  it('checks the HELO identity for the null sender', async () => {
    const zone = { ...ZONE, 'mail.example.org': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] } };
    const verdict = await verify(MESSAGE, {
      ...base,
      envelope: { mailFrom: null },
      clientIp: '192.0.2.10',
      resolver: createStaticResolver(zone),
    });
    expect(verdict.spf).toMatchObject({ result: 'pass', identity: 'helo', domain: 'mail.example.org' });
  });

  it('reports SERVFAIL on the SPF record as temperror, not fail', async () => {
    const verdict = await verify(MESSAGE, {
      ...base,
      clientIp: '203.0.113.9',
      resolver: failing(['example.org']),
    });
    expect(verdict.spf.result).toBe('temperror');
  });

  it('reports SERVFAIL inside include: as temperror', async () => {
    const verdict = await verify(MESSAGE, {
      ...base,
      clientIp: '203.0.113.9',
      resolver: failing(['spf.partner.test']),
    });
    expect(verdict.spf.result).toBe('temperror');
  });

  it('reports a DNS timeout while fetching a DKIM key as dkim temperror', async () => {
    const verdict = await verify(await signed(), {
      ...base,
      clientIp: '192.0.2.10',
      resolver: failing([record.name], 'ETIMEOUT'),
    });
    expect(verdict.dkim[0]?.result).toBe('temperror');
  });

  it('reports DMARC record trouble as dmarc temperror', async () => {
    const verdict = await verify(MESSAGE, {
      ...base,
      clientIp: '192.0.2.10',
      resolver: failing(['_dmarc.example.org']),
    });
    expect(verdict.dmarc.result).toBe('temperror');
  });

  it('stops all DNS after the time budget and answers temperror in bounded time', async () => {
    const never: Resolver = () => new Promise(() => {});
    const started = performance.now();
    const verdict = await verify(await signed(), {
      ...base,
      clientIp: '192.0.2.10',
      resolver: never,
      dnsBudgetMs: 300,
    });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(verdict.dnsBudgetExhausted).toBe(true);
    expect(verdict.spf.result).toBe('temperror');
    expect(verdict.dkim[0]?.result).toBe('temperror');
  });

  it('leaves SPF unchecked without a client IP', async () => {
    const verdict = await verify(MESSAGE, {
      authservId: 'mx.example.net',
      resolver: createStaticResolver(ZONE),
    });
    expect(verdict.spf).toMatchObject({ result: 'none', identity: null });
    expect(verdict.authenticationResults).not.toMatch(/spf=/);
  });

  it('rejects an authserv-id that is not a token (a programming error)', async () => {
    await expect(
      verify(MESSAGE, { authservId: 'bad id;', resolver: createStaticResolver(ZONE) }),
    ).rejects.toThrow(TypeError);
  });
});

describe('verify on bad input', () => {
  const resolver = createStaticResolver(ZONE);
  const options = { ...base, clientIp: '192.0.2.10', resolver };
  const bounded = async (message: string | Buffer) => {
    const started = performance.now();
    const verdict = await verify(message, options);
    expect(performance.now() - started).toBeLessThan(15_000);
    return verdict;
  };

  it('gives a verdict for a message without header fields', async () => {
    const verdict = await bounded('\r\nJust a body\r\n');
    expect(verdict.dkim).toEqual([]);
    expect(verdict.dmarc.result).toBe('none');
    expect(verdict.spf.result).toBe('pass');
  });

  it('gives a verdict for an empty message', async () => {
    const verdict = await bounded('');
    expect(verdict.dkim).toEqual([]);
  });

  it('gives a verdict for a message with a 1 MB header field', async () => {
    const huge = `X-Huge: ${'a'.repeat(1024 * 1024)}\r\n`;
    const verdict = await bounded(huge + (await signed()));
    expect(verdict.dkim[0]?.result).toBe('pass');
  });

  it('does not pass a signature whose b= is broken base64', async () => {
    const message = (await signed()).replace(/b=[A-Za-z0-9+/=\s]+(\r\nFrom:)/, 'b=!!!not*base64@@$1');
    expect(message).toContain('b=!!!not*base64@@\r\nFrom:');
    const verdict = await bounded(message);
    expect(verdict.dkim).toHaveLength(1);
    expect(['permerror', 'neutral', 'fail']).toContain(verdict.dkim[0]?.result);
  });

  it('gives a verdict for 50 DKIM signatures', async () => {
    const one = await signDkim(MESSAGE, {
      domain: 'example.org',
      selector: 'sel',
      privateKey: key.privateKey,
    });
    const verdict = await bounded(one.repeat(50) + MESSAGE);
    expect(verdict.dkim).toHaveLength(50);
    expect(verdict.dkim.every((row) => row.result === 'pass')).toBe(true);
  });

  it('does not pass a signature whose key record is not a key', async () => {
    const junk = createStaticResolver({
      ...ZONE,
      [record.name]: { TXT: ['v=DKIM1; k=ed25519; p=bm90IGEga2V5'] },
    });
    const verdict = await verify(await signed(), { ...options, resolver: junk });
    expect(['permerror', 'neutral', 'fail']).toContain(verdict.dkim[0]?.result);
    const text = createStaticResolver({ ...ZONE, [record.name]: { TXT: ['hello world'] } });
    const verdict2 = await verify(await signed(), { ...options, resolver: text });
    expect(['permerror', 'neutral', 'fail']).toContain(verdict2.dkim[0]?.result);
  });

  it('gives a verdict for binary garbage', async () => {
    const garbage = Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) % 256));
    const verdict = await bounded(garbage);
    expect(verdict.authenticationResults.startsWith('Authentication-Results: mx.example.net;')).toBe(true);
  });
});
