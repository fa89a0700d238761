// Subaddressing (RFC 5233), as Postfix's recipient_delimiter does it: `user+tag@domain` reaches
// whatever `user@domain` reaches unless a rule names the subaddress itself (`user+tag@` or
// `user+*@`). With `keepTag`, each destination gets the tag too (`dest+tag@…`), so the inbox's own
// filters still see it. Only the first separator counts: `a+b+c@` is user `a`, tag `b+c`.

import type { RcptFacts, Router } from '@mailyard/rules';
import type { Address } from '@mailyard/smtp';

export interface SubaddressOptions {
  /** The separator; null turns subaddressing off. Default `+`. */
  readonly separator: string | null;
  /** Carry the tag over to each destination. */
  readonly keepTag: boolean;
}

export interface ResolvedAlias {
  /** The address the rules decide for: the recipient itself, or its base address. */
  readonly address: Address;
  /** The tag when the base address was used, else null. */
  readonly tag: string | null;
}

/** The base address and tag of `address`, or null when it has no tag. */
export function splitSubaddress(address: Address, separator: string): { base: Address; tag: string } | null {
  const at = address.localPart.indexOf(separator);
  if (at <= 0 || at === address.localPart.length - separator.length) return null;
  return {
    base: { ...address, localPart: address.localPart.slice(0, at) },
    tag: address.localPart.slice(at + separator.length),
  };
}

/** Which address the rules should decide for `address`: itself if some rule accepts it, else its base. */
export function resolveAlias(
  router: Router,
  address: Address,
  facts: RcptFacts,
  options: SubaddressOptions,
): ResolvedAlias {
  const own = { address, tag: null };
  if (options.separator === null || router.accepts(address, facts).accepted) return own;
  const split = splitSubaddress(address, options.separator);
  if (split === null || !router.accepts(split.base, facts).accepted) return own;
  return { address: split.base, tag: split.tag };
}

/** `dest` with `tag` appended to its local part. */
export function withTag(dest: Address, tag: string, separator: string): Address {
  return { ...dest, localPart: `${dest.localPart}${separator}${tag}` };
}
