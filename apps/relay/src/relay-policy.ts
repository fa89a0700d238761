// Relay authorisation (RFC 5321 §3.6.2 and §7.1; RFC 2505 "Anti-Spam Recommendations for SMTP
// MTAs" §2, which lists the tricks): who may relay to which recipients, and which sender addresses
// an authenticated user may use (RFC 6409 §6.1). Never an open relay: a client that is neither
// authenticated nor in a trusted network may only send to the local domains, and only to plain
// local parts — `%`-hacks, bang paths and quoted local parts holding `@` are how a local address
// used to be turned into a relay hop by the next MTA, so they are refused outright. Source routes
// are already stripped by the parser (the final mailbox is what is checked); IP literals and
// trailing dots never name a local domain.

import { type Address, SmtpError } from '@mailyard/smtp';

export interface RelayFacts {
  readonly authenticated: boolean;
  readonly trusted: boolean;
}

const ROUTING_CHARS = /[%!@]/;

/** Null when the recipient may be accepted, else the refusal (554 5.7.1). */
export function relayRefusal(
  rcpt: Address,
  facts: RelayFacts,
  localDomains: ReadonlySet<string>,
): SmtpError | null {
  if (facts.authenticated || facts.trusted) return null;
  if (!localDomains.has(rcpt.domain) || ROUTING_CHARS.test(rcpt.localPart)) {
    return new SmtpError(554, '5.7.1', 'Relay access denied');
  }
  return null;
}

/**
 * Whether `user` may use `mailFrom`: a grant is `*` (any), a whole domain (`example.org`), or one
 * address (`alice@example.org`, local part compared case-insensitively). The null sender is
 * allowed: it cannot impersonate anyone.
 */
export function senderAllowed(
  user: string,
  mailFrom: Address | null,
  grants: ReadonlyMap<string, readonly string[]>,
): boolean {
  if (mailFrom === null) return true;
  const address = `${mailFrom.localPart.toLowerCase()}@${mailFrom.domain}`;
  for (const grant of grants.get(user) ?? []) {
    if (grant === '*') return true;
    if (grant.includes('@') ? grant === address : grant === mailFrom.domain) return true;
  }
  return false;
}
