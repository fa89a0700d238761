// The SMTP envelope: reverse-path, forward-paths and their ESMTP parameters
// (RFC 5321 §3.3; SIZE RFC 1870; BODY RFC 6152; SMTPUTF8 RFC 6531; RET/ENVID/NOTIFY/ORCPT RFC 3461).

import type { Address } from './address.ts';

export type Notify = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface Recipient {
  readonly address: Address;
  /** RFC 3461 NOTIFY: `'NEVER'`, or the events to report; absent means the MTA's default. */
  readonly notify?: 'NEVER' | readonly Notify[];
  /** RFC 3461 ORCPT, as `addr-type;xtext-decoded address`, e.g. `rfc822;user@example.com`. */
  readonly orcpt?: string;
}

export interface MailParams {
  /** RFC 1870 SIZE declared by the client, in octets. */
  readonly size?: number;
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtputf8?: boolean;
  /** RFC 3461 RET: return the full message or only its headers in a DSN. */
  readonly ret?: 'FULL' | 'HDRS';
  /** RFC 3461 ENVID, xtext-decoded. */
  readonly envid?: string;
}

export interface Envelope {
  /** The reverse-path; `null` is the null sender `<>` (bounces, DSNs). */
  readonly mailFrom: Address | null;
  readonly rcptTo: readonly Recipient[];
  readonly params: MailParams;
}

/** RFC 3461 §4 xtext: `+XX` hex escapes for octets outside `!`..`~`, `+` and `=`. */
export function decodeXtext(text: string): string {
  return text.replace(/\+([0-9A-Fa-f]{2})/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

export function encodeXtext(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d
        ? String.fromCharCode(byte)
        : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
