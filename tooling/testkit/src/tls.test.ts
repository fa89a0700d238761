import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestCertificate } from './tls.ts';

describe('createTestCertificate', () => {
  it('makes a matching self-signed key and certificate for localhost and 127.0.0.1', async () => {
    const { key, cert } = await createTestCertificate();
    const x509 = new X509Certificate(cert);
    expect(x509.subject).toContain('CN=localhost');
    expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
    expect(x509.verify(x509.publicKey)).toBe(true);
  });
});
