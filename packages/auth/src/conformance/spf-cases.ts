// Runs one SPF suite case through verify() (the package's own API, not mailauth directly).

import type { Address } from '@mailyard/smtp';
import { verify } from '../verify.ts';
import type { SpfCase } from './suites.ts';

const MESSAGE = 'From: someone@unrelated.test\r\nSubject: spf\r\n\r\nbody\r\n';

function mailFrom(text: string): Address | null {
  if (text === '') return null;
  const at = text.lastIndexOf('@');
  return { localPart: text.slice(0, Math.max(at, 0)), domain: text.slice(at + 1) };
}

export async function spfResult(test: SpfCase): Promise<string> {
  const verdict = await verify(MESSAGE, {
    envelope: { mailFrom: mailFrom(test.mailfrom) },
    clientIp: test.host,
    helo: test.helo,
    resolver: test.resolver,
    authservId: 'mx.conformance.test',
  });
  return verdict.spf.result;
}
