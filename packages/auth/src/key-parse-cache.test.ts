// What patches/mailauth changes in verification: a key record is parsed once for as long as its
// text stays the same (and again as soon as it changes), and the header/body split is found
// however the message is cut into chunks.

import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { type DNSResolver, dkimVerify } from 'mailauth';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStaticResolver, type Resolver } from './dns.ts';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { signDkim } from './sign.ts';
import { verify } from './verify.ts';

// A selector of its own: the cache lives as long as the process, and other tests use other keys.
const SELECTOR = 'cache';
const MESSAGE = 'From: Alice <alice@cache.test>\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nHello\r\n';
const base = { authservId: 'mx.example.net' };

function zoneFor(privateKey: string): Resolver {
  const record = dkimDnsRecord({ domain: 'cache.test', selector: SELECTOR, key: privateKey });
  return createStaticResolver({ [record.name]: { TXT: [record.value] } });
}

const signedWith = async (privateKey: string, body = MESSAGE) =>
  (await signDkim(body, { domain: 'cache.test', selector: SELECTOR, privateKey })) + body;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('DKIM key records', () => {
  it('are parsed once for the same record text, and again when the record changes', async () => {
    const parse = vi.spyOn(crypto, 'createPublicKey');
    const first = generateDkimKey({ type: 'rsa' });
    const resolver = zoneFor(first.privateKey);
    for (let i = 0; i < 3; i++) {
      const verdict = await verify(await signedWith(first.privateKey), { ...base, resolver });
      expect(verdict.dkim[0]?.result).toBe('pass');
    }
    expect(parse).toHaveBeenCalledTimes(1);

    // Key rotation: same name, new record. The old parse must not answer for it.
    const second = generateDkimKey({ type: 'rsa' });
    const rotated = zoneFor(second.privateKey);
    const verdict = await verify(await signedWith(second.privateKey), { ...base, resolver: rotated });
    expect(verdict.dkim[0]?.result).toBe('pass');
    const stale = await verify(await signedWith(first.privateKey), { ...base, resolver: rotated });
    expect(stale.dkim[0]?.result).toBe('fail');
    expect(parse).toHaveBeenCalledTimes(2);
  });

  it('keep their flags per lookup when the parse comes from the cache', async () => {
    const key = generateDkimKey({ type: 'rsa' });
    const record = dkimDnsRecord({ domain: 'cache.test', selector: SELECTOR, key: key.privateKey });
    // t=y: the domain is testing DKIM; every result must say so, the cached ones too.
    const resolver = createStaticResolver({ [record.name]: { TXT: [`${record.value}; t=y`] } });
    for (let i = 0; i < 2; i++) {
      const { results } = await dkimVerify(Buffer.from(await signedWith(key.privateKey)), {
        resolver: resolver as DNSResolver,
      });
      expect(results[0]?.status).toMatchObject({ result: 'pass', testing: true });
    }
  });
});

describe('the header/body split', () => {
  it('is found when the message arrives one octet at a time', async () => {
    const key = generateDkimKey({ type: 'ed25519' });
    const message = Buffer.from(await signedWith(key.privateKey));
    const octets = Readable.from(Array.from(message, (octet) => Buffer.of(octet)));
    const verdict = await verify(octets, { ...base, resolver: zoneFor(key.privateKey) });
    expect(verdict.dkim[0]?.result).toBe('pass');
  });

  it('is found after bare LF line ends, cut at every point', async () => {
    const key = generateDkimKey({ type: 'ed25519' });
    const message = Buffer.from((await signedWith(key.privateKey)).replace(/\r\n/g, '\n'));
    const resolver = zoneFor(key.privateKey);
    const blank = message.indexOf('\n\n');
    for (const cut of [blank, blank + 1, blank + 2]) {
      const parts = Readable.from([message.subarray(0, cut), message.subarray(cut)]);
      const verdict = await verify(parts, { ...base, resolver });
      expect(verdict.dkim[0]?.result, `cut at ${cut}`).toBe('pass');
    }
  });
});
