// Organizational Domain by the Public Suffix List (RFC 7489 §3.2, the DMARC revision before
// RFC 9989): the registrable domain one label below the longest public suffix. verify() itself
// follows RFC 9989 (mailauth's DNS tree walk); this helper serves reports, relaxed alignment
// previews and the pre-flight check, where no DNS walk is wanted. Uses the PSL that mailauth ships (tldts).

import { domainToASCII } from 'node:url';
import { getDomain } from 'tldts';

/**
 * The Organizational Domain of `domain` (lower-case A-labels), or null when the name is itself a
 * public suffix, empty, or malformed (a leading dot, an empty label).
 */
export function organizationalDomain(domain: string | null | undefined): string | null {
  if (!domain || domain.startsWith('.') || domain.includes('..')) return null;
  const ascii = domainToASCII(domain.replace(/\.$/, '').toLowerCase());
  if (!ascii) return null;
  const registrable = getDomain(ascii, {
    allowPrivateDomains: true,
    allowIcannDomains: true,
    extractHostname: false,
  });
  return registrable ? registrable.toLowerCase() : null;
}
