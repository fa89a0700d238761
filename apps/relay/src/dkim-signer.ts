// DKIM signing per sender domain (RFC 6376 §3.5; several signatures, e.g. ed25519-sha256 per
// RFC 8463 next to rsa-sha256, in one pass). The signing domain is the domain of the RFC 5322
// From address, so the signature aligns for DMARC (RFC 7489 §3.1.1); a message whose From domain
// has no key is sent unsigned.

import type { Readable } from 'node:stream';
import { type DkimKey, signDkim } from '@mailyard/auth';
import { peekHead } from '@mailyard/smtp';
import type { DkimKeyConfig } from './relay-config.ts';

export interface DkimSigner {
  /**
   * The `DKIM-Signature` fields to prepend (CRLF-terminated), or '' when no key applies. The
   * message streams through (the body is hashed as it passes), so its size does not matter.
   */
  sign(message: Readable | Buffer): Promise<{ readonly headers: string; readonly domain: string | null }>;
}

/** The From header's address domain, from a header block (unfolded), lower-cased; null if none. */
export function fromDomain(headBlock: Buffer): string | null {
  const end = headBlock.indexOf('\r\n\r\n');
  const head = headBlock.subarray(0, end < 0 ? headBlock.length : end).toString('latin1');
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = /^from:(.*)$/im.exec(unfolded)?.[1];
  if (!line) return null;
  const angle = /<[^<>]*@([^<>\s]+)>/.exec(line)?.[1];
  const bare = /@([A-Za-z0-9.-]+)/.exec(line)?.[1];
  const domain = angle ?? bare;
  return domain ? domain.toLowerCase().replace(/\.$/, '') : null;
}

export function createDkimSigner(keys: readonly DkimKeyConfig[]): DkimSigner {
  const byDomain = new Map<string, DkimKey[]>();
  for (const key of keys) {
    const list = byDomain.get(key.domain) ?? [];
    list.push({ domain: key.domain, selector: key.selector, privateKey: key.privateKey });
    byDomain.set(key.domain, list);
  }
  return {
    async sign(source) {
      if (byDomain.size === 0) {
        // No keys at all: nothing to read (plain relaying).
        if (!Buffer.isBuffer(source)) source.destroy();
        return { headers: '', domain: null };
      }
      const { head, message } = await peekHead(source);
      const domain = fromDomain(head);
      const domainKeys = domain ? byDomain.get(domain) : undefined;
      if (!domain || !domainKeys) {
        message.destroy();
        return { headers: '', domain: null };
      }
      return { headers: await signDkim(message, domainKeys), domain };
    },
  };
}
