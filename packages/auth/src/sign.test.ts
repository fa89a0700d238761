import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { dkimVerify } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { createStaticResolver } from './dns.ts';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { signDkim } from './sign.ts';
import { verify } from './verify.ts';

const rsa = generateDkimKey({ type: 'rsa' });
const ed = generateDkimKey({ type: 'ed25519' });
const zone = createStaticResolver({
  [dkimDnsRecord({ domain: 'example.org', selector: 'rsa', key: rsa.privateKey }).name]: {
    TXT: [dkimDnsRecord({ domain: 'example.org', selector: 'rsa', key: rsa.privateKey }).value],
  },
  [dkimDnsRecord({ domain: 'example.org', selector: 'ed', key: ed.privateKey }).name]: {
    TXT: [dkimDnsRecord({ domain: 'example.org', selector: 'ed', key: ed.privateKey }).value],
  },
});
const MESSAGE = [
  'From: Alice <alice@example.org>',
  'To: bob@example.net',
  'Subject: Lunch',
  'Date: Sun, 29 Nov 2026 10:00:00 +0000',
  'Message-ID: <1@example.org>',
  '',
  'Shall we  meet at noon?  ',
  '',
  '',
].join('\r\n');
const keys = [
  { domain: 'example.org', selector: 'rsa', privateKey: rsa.privateKey },
  { domain: 'example.org', selector: 'ed', privateKey: ed.privateKey },
];

async function results(message: string | Buffer) {
  const out = await dkimVerify(Buffer.from(message), { resolver: zone as never });
  return out.results.map((row) => `${row.selector}:${row.status.result}`).sort();
}

describe('signDkim', () => {
  it('dual-signs with rsa-sha256 and ed25519-sha256, both verified by mailauth', async () => {
    const signatures = await signDkim(MESSAGE, keys);
    expect(signatures.match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect(signatures).toMatch(/a=rsa-sha256/);
    expect(signatures).toMatch(/a=ed25519-sha256/);
    expect(await results(signatures + MESSAGE)).toEqual(['ed:pass', 'rsa:pass']);
  });

  it('defaults to relaxed/relaxed and over-signs From, Subject, To and Date', async () => {
    const signature = (await signDkim(MESSAGE, keys[1] as (typeof keys)[1])).replace(/\r\n\t/g, ' ');
    expect(signature).toMatch(/c=relaxed\/relaxed/);
    const h = /h=([^;]+);/.exec(signature)?.[1]?.replace(/\s/g, '').split(':') ?? [];
    for (const name of ['from', 'subject', 'to', 'date']) expect(h.filter((n) => n === name)).toHaveLength(2);
    expect(h).toContain('message-id');
  });

  it('makes a signature that breaks when an over-signed header field is added', async () => {
    const signatures = await signDkim(MESSAGE, keys);
    const tampered = signatures + MESSAGE.replace('Subject: Lunch', 'Subject: Lunch\r\nSubject: Win a prize');
    expect(await results(tampered)).toEqual(['ed:fail', 'rsa:fail']);
  });

  it('survives relaxed body changes (trailing blank lines, whitespace) but not content changes', async () => {
    const signatures = await signDkim(MESSAGE, keys);
    expect(await results(signatures + MESSAGE.replace('  ', '\t'))).toEqual(['ed:pass', 'rsa:pass']);
    // mailauth reports a body hash mismatch as neutral (lenient mode): anything but pass.
    for (const row of await results(signatures + MESSAGE.replace('noon', 'one')))
      expect(row).not.toMatch(/:pass$/);
  });

  it('signs simple/simple when asked', async () => {
    const signatures = await signDkim(
      MESSAGE,
      keys.map((key) => ({ ...key, canonicalization: 'simple/simple' as const })),
    );
    expect(signatures).toMatch(/c=simple\/simple/);
    expect(await results(signatures + MESSAGE)).toEqual(['ed:pass', 'rsa:pass']);
  });

  it('signs a streamed 1 MB message in small chunks', async () => {
    const line = `${'x'.repeat(76)}\r\n`;
    const body = line.repeat(Math.ceil(1_048_576 / line.length));
    const head = MESSAGE.slice(0, MESSAGE.indexOf('\r\n\r\n') + 4);
    const whole = Buffer.from(head + body);
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < whole.length; i += 1000) yield whole.subarray(i, i + 1000);
      })(),
    );
    const signatures = await signDkim(stream, keys);
    expect(await results(Buffer.concat([Buffer.from(signatures), whole]))).toEqual(['ed:pass', 'rsa:pass']);
  });

  it('signs an LF-only message the same as its CRLF form', async () => {
    const lf = MESSAGE.replace(/\r\n/g, '\n');
    const signatures = await signDkim(lf, keys);
    expect(await results(signatures + MESSAGE)).toEqual(['ed:pass', 'rsa:pass']);
  });

  it('sets t= from the injected clock and x= from expiresInSeconds', async () => {
    const signatures = await signDkim(MESSAGE, keys[1] as (typeof keys)[1], {
      now: () => new Date('2026-01-01T00:00:00Z'),
      expiresInSeconds: 3600,
    });
    expect(signatures).toMatch(/t=1767225600;/);
    expect(signatures).toMatch(/x=1767229200;/);
  });

  it('refuses an RSA key under 2048 bits', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await expect(signDkim(MESSAGE, { domain: 'example.org', selector: 's', privateKey })).rejects.toThrow(
      RangeError,
    );
  });

  it('refuses a message without a From header field', async () => {
    await expect(signDkim('Subject: x\r\n\r\nbody\r\n', keys)).rejects.toThrow(/From/);
  });

  it('gives a signature that verify() reports as aligned with the From domain', async () => {
    const dmarcZone = createStaticResolver({
      'rsa._domainkey.example.org': {
        TXT: [dkimDnsRecord({ domain: 'example.org', selector: 'rsa', key: rsa.privateKey }).value],
      },
      '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
    });
    const signatures = await signDkim(MESSAGE, keys[0] as (typeof keys)[0]);
    const verdict = await verify(signatures + MESSAGE, { resolver: dmarcZone, authservId: 'mx.example.net' });
    expect(verdict.dkim).toMatchObject([
      { result: 'pass', domain: 'example.org', selector: 'rsa', aligned: true },
    ]);
    expect(verdict.dmarc).toMatchObject({ result: 'pass', policy: 'reject', fromDomain: 'example.org' });
  });
});
