import { Readable } from 'node:stream';
import { generateDkimKey } from '@mailyard/auth';
import { describe, expect, it } from 'vitest';
import { createDkimSigner, fromDomain } from './dkim-signer.ts';

describe('dkim signer', () => {
  it('finds the From domain, folded or with a display name', () => {
    expect(fromDomain(Buffer.from('Subject: x\r\nFrom: "A, B" <a@Example.ORG>\r\n\r\nbody'))).toBe(
      'example.org',
    );
    expect(fromDomain(Buffer.from('From:\r\n a@example.net\r\n\r\n'))).toBe('example.net');
    expect(fromDomain(Buffer.from('Subject: none\r\n\r\n'))).toBeNull();
  });

  it('signs with every key of the From domain and leaves other domains unsigned', async () => {
    const signer = createDkimSigner([
      { domain: 'example.org', selector: 'ed', privateKey: generateDkimKey({ type: 'ed25519' }).privateKey },
      { domain: 'example.org', selector: 'rsa', privateKey: generateDkimKey({ type: 'rsa' }).privateKey },
    ]);
    const signed = await signer.sign(Buffer.from('From: a@example.org\r\nSubject: s\r\n\r\nhello\r\n'));
    expect(signed.headers.match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect((await signer.sign(Buffer.from('From: a@other.example\r\n\r\nhello\r\n'))).headers).toBe('');
  });

  it('reads nothing of the message when no key is configured at all', async () => {
    let reads = 0;
    const message = new Readable({
      read() {
        reads++;
        this.push('From: a@example.org\r\n\r\nhello\r\n');
        this.push(null);
      },
    });
    expect(await createDkimSigner([]).sign(message)).toEqual({ headers: '', domain: null });
    expect(reads).toBe(0);
    expect(message.destroyed).toBe(true);
  });
});
