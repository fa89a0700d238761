// Interop: signatures made by signDkim verify with an independent implementation, Debian's
// python3-dkim (dkimpy), driven through its Python API with a DNS function serving our record.
// Skipped with a reason where python3-dkim is missing; under CI=true it must run (.ci/run installs it).

import { dkimpyAvailable, dkimpyVerify } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { signDkim } from './sign.ts';

const available = dkimpyAvailable();
const ci = process.env.CI === 'true';

const MESSAGE = [
  'From: Alice <alice@example.org>',
  'To: Bob <bob@example.net>',
  'Subject: Interop',
  'Date: Sun, 29 Nov 2026 10:00:00 +0000',
  'Message-ID: <interop@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Hello   Bob,\t ',
  'this is signed by Mailyard and checked by dkimpy.',
  '',
  '',
].join('\r\n');

describe.skipIf(!available && !ci)(
  `dkimpy interop${available ? '' : ' (skipped: python3-dkim is not installed; apt-get install python3-dkim)'}`,
  () => {
    const rsa = generateDkimKey({ type: 'rsa' });
    const ed = generateDkimKey({ type: 'ed25519' });
    const records = {
      'rsa._domainkey.example.org': dkimDnsRecord({
        domain: 'example.org',
        selector: 'rsa',
        key: rsa.privateKey,
      }).value,
      'ed._domainkey.example.org': dkimDnsRecord({
        domain: 'example.org',
        selector: 'ed',
        key: ed.privateKey,
      }).value,
    };
    const keys = [
      { domain: 'example.org', selector: 'rsa', privateKey: rsa.privateKey },
      { domain: 'example.org', selector: 'ed', privateKey: ed.privateKey },
    ];

    it('is installed (required in CI)', () => {
      expect(available, 'python3-dkim is missing: apt-get install python3-dkim').toBe(true);
    });

    it('verifies our rsa-sha256 and ed25519-sha256 signatures (relaxed/relaxed, over-signed)', async () => {
      const signed = (await signDkim(MESSAGE, keys)) + MESSAGE;
      expect(dkimpyVerify(signed, records)).toEqual([true, true]);
    });

    it('verifies our simple/simple signatures', async () => {
      const simple = keys.map((key) => ({ ...key, canonicalization: 'simple/simple' as const }));
      const signed = (await signDkim(MESSAGE, simple)) + MESSAGE;
      expect(dkimpyVerify(signed, records)).toEqual([true, true]);
    });

    it('rejects our signatures once the body changes', async () => {
      const signed = (await signDkim(MESSAGE, keys)) + MESSAGE.replace('Bob,', 'Eve,');
      expect(dkimpyVerify(signed, records)).toEqual([false, false]);
    });
  },
);
