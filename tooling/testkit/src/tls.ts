// createTestCertificate: a throwaway self-signed key and certificate, made at test time with the
// openssl CLI, so that no key is ever committed. For localhost / 127.0.0.1 TLS in tests.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  /** PEM private key (EC P-256). */
  readonly key: string;
  /** PEM self-signed certificate. */
  readonly cert: string;
}

export interface TestCertificateOptions {
  /** Default `localhost`. */
  readonly commonName?: string;
  /** subjectAltName entries, default `DNS:localhost`, `IP:127.0.0.1`, `IP:::1`. */
  readonly altNames?: readonly string[];
  /** Default 2. */
  readonly days?: number;
}

export async function createTestCertificate(options: TestCertificateOptions = {}): Promise<TestCertificate> {
  const commonName = options.commonName ?? 'localhost';
  const altNames = options.altNames ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const dir = await mkdtemp(join(tmpdir(), 'mailyard-cert-'));
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      String(options.days ?? 2),
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      `subjectAltName=${altNames.join(',')}`,
    ]);
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { key, cert };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
