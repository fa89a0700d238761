// sealArc(): adds this hop's ARC set (RFC 8617 §5.1): ARC-Authentication-Results carrying our
// Authentication-Results, ARC-Message-Signature and ARC-Seal for instance i = n + 1, with cv=
// from the verdict's chain result (none for the first set). mailauth creates the set.

import { createSecretKey, KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { createSeal } from 'mailauth';
import type { Verdict } from './verdict.ts';
import type { MessageInput } from './verify.ts';

export interface ArcKey {
  readonly domain: string;
  readonly selector: string;
  /** PEM (RSA 2048+ or Ed25519); most validators today accept only rsa-sha256 for ARC. */
  readonly privateKey: string | Buffer | KeyObject;
}

export interface SealArcOptions {
  /** The clock for t= (default: the system clock). */
  readonly now?: () => Date;
}

export type SealResult =
  | {
      readonly sealed: true;
      readonly instance: number /** The three header fields, each ending in CRLF, to put on top. */;
      readonly headers: string;
    }
  | { readonly sealed: false; readonly reason: string };

// Mailyard's own install patches mailauth (patches/mailauth@7.1.0.patch) to take a parsed key as
// it is, so that a caller that parses its key once does not pay for parsing it on every seal. A
// consumer's install from npm has stock mailauth, which takes only PEM: there a KeyObject is
// exported to PEM, once per key.
const mailauthTools = createRequire(import.meta.url)('mailauth/lib/tools.js') as {
  getPrivateKey(key: unknown): unknown;
};
let takesKeyObjects: boolean | undefined;
const pemOf = new WeakMap<KeyObject, string>();

/** True when this mailauth uses a KeyObject as it is (the patched one). */
export function mailauthTakesKeyObjects(): boolean {
  if (takesKeyObjects === undefined) {
    const probe = createSecretKey(Buffer.alloc(1));
    try {
      takesKeyObjects = mailauthTools.getPrivateKey(probe) === probe;
    } catch {
      takesKeyObjects = false;
    }
  }
  return takesKeyObjects;
}

/** The key as this mailauth can take it (its types say string | Buffer either way). */
export function keyForMailauth(
  privateKey: string | Buffer | KeyObject,
  takesObjects = mailauthTakesKeyObjects(),
): string | Buffer {
  if (!(privateKey instanceof KeyObject) || takesObjects) return privateKey as string | Buffer;
  let pem = pemOf.get(privateKey);
  if (pem === undefined) {
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    pemOf.set(privateKey, pem);
  }
  return pem;
}

/**
 * Seals a message with the verdict that verify() gave for it. Resolves with the headers, or with
 * `sealed: false` and a reason when no set may be added (the newest seal already says cv=fail,
 * the chain already has 50 sets) or the key cannot sign.
 */
export async function sealArc(
  message: MessageInput,
  verdict: Verdict,
  key: ArcKey,
  options: SealArcOptions = {},
): Promise<SealResult> {
  const privateKey = keyForMailauth(key.privateKey);
  const input =
    typeof message === 'string'
      ? Buffer.from(message, 'utf8')
      : message instanceof Uint8Array
        ? Buffer.from(message)
        : message;
  const result = await createSeal(input, {
    seal: {
      signingDomain: key.domain,
      selector: key.selector,
      privateKey,
      cv: verdict.arc.result,
      authResults: verdict.authenticationResultsValue,
      signTime: options.now?.() ?? new Date(),
    },
  });
  return toSealResult(result, verdict);
}

/**
 * What verify() keeps of a message when asked to seal it (`sealWith`): its parsed header and ARC
 * chain, and the body hash of the seal's canonicalization, computed in the same pass as DKIM.
 */
export interface PreparedSeal {
  readonly headers: unknown;
  readonly arc: unknown;
  readonly bodyHash: string;
}

/** sealArc() without reading the message again: from what verify() prepared while it read it. */
export async function sealPrepared(
  prepared: PreparedSeal,
  verdict: Verdict,
  key: ArcKey,
  options: SealArcOptions = {},
): Promise<SealResult> {
  const seal = {
    signingDomain: key.domain,
    selector: key.selector,
    privateKey: keyForMailauth(key.privateKey),
    bodyHash: prepared.bodyHash,
    cv: verdict.arc.result,
    authResults: verdict.authenticationResultsValue,
    signTime: options.now?.() ?? new Date(),
  };
  // mailauth's own one-pass path (its authenticate() seals this way); its types know only the other.
  const result = await (
    createSeal as unknown as (input: false, data: object) => ReturnType<typeof createSeal>
  )(false, { headers: prepared.headers, arc: prepared.arc, seal });
  return toSealResult(result, verdict);
}

function toSealResult(result: Awaited<ReturnType<typeof createSeal>>, verdict: Verdict): SealResult {
  if (result.errors.length > 0 || result.headers.length === 0) {
    const reason = result.errors.map((entry) => entry.err.message).join('; ') || 'no ARC set created';
    return { sealed: false, reason };
  }
  const headers = result.headers.map((line) => (line.endsWith('\r\n') ? line : `${line}\r\n`)).join('');
  const instance = Number(/^ARC-Seal:[\s\S]*?\bi=(\d+)/im.exec(headers)?.[1] ?? verdict.arc.instance + 1);
  return { sealed: true, instance, headers };
}
