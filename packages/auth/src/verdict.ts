// The verdict of one verification: plain data for SPF (RFC 7208), each DKIM signature
// (RFC 6376, RFC 8463), DMARC (RFC 9989), the ARC chain (RFC 8617) and the finished
// Authentication-Results header field (RFC 8601). Failed checks are values here, never errors.

import type { SealResult } from './seal.ts';

/** RFC 8601 §2.7 result keywords used by the methods we report. */
export type AuthResult =
  | 'pass'
  | 'fail'
  | 'softfail'
  | 'neutral'
  | 'none'
  | 'temperror'
  | 'permerror'
  | 'policy';

export interface SpfVerdict {
  readonly result: AuthResult;
  /** The domain whose policy was checked: the MAIL FROM domain, or the HELO name for `<>`. */
  readonly domain: string | null;
  /** Which identity was checked (RFC 7208 §2.3, §2.4). */
  readonly identity: 'mailfrom' | 'helo' | null;
  /** Explanation published with `exp=` for a fail (third-party text, RFC 7208 §6.2). */
  readonly explanation?: string;
  readonly comment?: string;
  /** The Received-SPF header field (RFC 7208 §9.1), without CRLF, when SPF was checked. */
  readonly receivedSpf?: string;
}

export interface DkimVerdict {
  readonly result: AuthResult;
  /** d= of the signature. */
  readonly domain: string | null;
  /** s= of the signature. */
  readonly selector: string | null;
  /** a= of the signature, e.g. `rsa-sha256`, `ed25519-sha256`. */
  readonly algorithm: string | null;
  /** True when this signature passed and its domain aligns with the From domain for DMARC. */
  readonly aligned: boolean;
  /** The first characters of b= (RFC 6008 header.b), to tell signatures apart. */
  readonly signaturePrefix: string | null;
  readonly comment?: string;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface DmarcVerdict {
  readonly result: 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';
  /** The RFC5322.From domain (Author Domain); null when there is none or several. */
  readonly fromDomain: string | null;
  /** The Organizational Domain found by the DNS tree walk. */
  readonly orgDomain: string | null;
  /** The policy to apply for a failing message (p=, sp= or np=, lowered by t=y); null without a record. */
  readonly policy: DmarcPolicy | null;
  /** The aligned identifier per mechanism, or null when nothing aligned. */
  readonly alignment: { readonly spf: string | null; readonly dkim: string | null };
  readonly comment?: string;
}

export interface ArcVerdict {
  readonly result: 'pass' | 'fail' | 'none';
  /** The highest instance on the message (0 when there is no chain). */
  readonly instance: number;
  readonly comment?: string;
}

export interface Verdict {
  readonly authservId: string;
  readonly spf: SpfVerdict;
  /** One entry per DKIM-Signature header field, newest first. Empty when the message is unsigned. */
  readonly dkim: readonly DkimVerdict[];
  readonly dmarc: DmarcVerdict;
  readonly arc: ArcVerdict;
  /** The whole `Authentication-Results: …` header field, folded, without the final CRLF. */
  readonly authenticationResults: string;
  /** The header field value (authserv-id and results): what ARC-Authentication-Results repeats. */
  readonly authenticationResultsValue: string;
  /** True when the DNS time budget ran out during this verification. */
  readonly dnsBudgetExhausted: boolean;
  /** The ARC set for this message, when verify() was asked to seal it (`sealWith`). */
  readonly arcSeal?: SealResult;
}
