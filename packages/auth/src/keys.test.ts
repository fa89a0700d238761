import { createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dkimDnsRecord, generateDkimKey, publicKeyValue, splitTxt } from './keys.ts';

describe('generateDkimKey', () => {
  it('makes an ed25519 key whose p= is the bare 32-octet key (RFC 8463)', () => {
    const key = generateDkimKey({ type: 'ed25519' });
    expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(Buffer.from(key.publicKey, 'base64')).toHaveLength(32);
  });

  it('makes a 2048-bit RSA key by default and refuses fewer bits', () => {
    const key = generateDkimKey({ type: 'rsa' });
    const der = Buffer.from(key.publicKey, 'base64');
    expect(
      createPublicKey({ key: der, format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength,
    ).toBe(2048);
    expect(() => generateDkimKey({ type: 'rsa', bits: 1024 })).toThrow(RangeError);
  });
});

describe('dkimDnsRecord', () => {
  it('names the selector record and splits a long RSA record into 255-octet strings', () => {
    const key = generateDkimKey({ type: 'rsa', bits: 4096 });
    const record = dkimDnsRecord({ domain: 'Example.org', selector: 's2026', key: key.privateKey });
    expect(record.name).toBe('s2026._domainkey.example.org');
    expect(record.value).toBe(`v=DKIM1; k=rsa; p=${key.publicKey}`);
    expect(record.strings.length).toBeGreaterThan(2);
    for (const part of record.strings) expect(Buffer.byteLength(part)).toBeLessThanOrEqual(255);
    expect(record.strings.join('')).toBe(record.value);
    expect(record.zoneLine).toBe(
      `s2026._domainkey.example.org. IN TXT ( ${record.strings.map((s) => `"${s}"`).join(' ')} )`,
    );
  });

  it('writes k=ed25519 and t=y when testing', () => {
    const key = generateDkimKey();
    const record = dkimDnsRecord({
      domain: 'example.org',
      selector: 'ed',
      key: key.privateKey,
      testing: true,
    });
    expect(record.value).toBe(`v=DKIM1; k=ed25519; t=y; p=${publicKeyValue(key.privateKey)}`);
    expect(record.strings).toEqual([record.value]);
  });
});

describe('splitTxt', () => {
  it('splits at 255 octets', () => {
    expect(splitTxt('a'.repeat(600)).map((s) => s.length)).toEqual([255, 255, 90]);
  });
});
