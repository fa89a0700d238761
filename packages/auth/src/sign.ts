// signDkim(): DKIM-Signature header fields for one message (RFC 6376 §3.5, §5), with
// rsa-sha256 (RFC 8301: keys of 2048 bits or more here) and ed25519-sha256 (RFC 8463), several
// signatures in one pass (dual signing), relaxed/relaxed by default, and over-signing (§8.15):
// From, Subject, To and Date are listed once more than they occur, so none can be added later.
// The body streams through one hasher per body canonicalization.

import { createHash, createPrivateKey, KeyObject, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { BodyHasher, type Canon, canonicalizeHeader } from './canonicalize.ts';
import { type HeaderField, type MessageSource, readMessage } from './message-stream.ts';

const signAsync = promisify(sign);

export type DkimAlgorithm = 'rsa-sha256' | 'ed25519-sha256';
export type Canonicalization = `${Canon}/${Canon}`;

export interface DkimKey {
  /** d=: the signing domain. */
  readonly domain: string;
  /** s=: the selector; the public key is at `<selector>._domainkey.<domain>`. */
  readonly selector: string;
  /** PKCS#8 or PKCS#1 PEM, or a KeyObject: RSA (2048 bits or more) or Ed25519. */
  readonly privateKey: string | Buffer | KeyObject;
  /** c= (default relaxed/relaxed). */
  readonly canonicalization?: Canonicalization;
  /** Header fields to sign when present (default: DEFAULT_SIGNED_HEADERS). */
  readonly headers?: readonly string[];
  /** Header fields signed once more than they occur (default: OVERSIGNED_HEADERS). */
  readonly oversign?: readonly string[];
  /** i=: the agent or user identifier, an address in the signing domain or a subdomain. */
  readonly identity?: string;
}

export interface SignDkimOptions {
  /** The clock for t= (default: the system clock). */
  readonly now?: () => Date;
  /** x= as seconds after t= (default: no expiry). */
  readonly expiresInSeconds?: number;
}

/** What we sign when present: the fields a reader sees or that change how the body is read. */
export const DEFAULT_SIGNED_HEADERS: readonly string[] = [
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'resent-date',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'resent-message-id',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
];

export const OVERSIGNED_HEADERS: readonly string[] = ['from', 'subject', 'to', 'date'];

const MIN_RSA_BITS = 2048;
const DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$/;

interface PreparedKey {
  readonly key: DkimKey;
  readonly keyObject: KeyObject;
  readonly algorithm: DkimAlgorithm;
  readonly headerCanon: Canon;
  readonly bodyCanon: Canon;
}

// Parsed keys by PEM text: parsing and first use of an RSA key cost about as much as a signature.
const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_SIZE = 32;

function parseKey(privateKey: string | Buffer | KeyObject): KeyObject {
  if (privateKey instanceof KeyObject) return privateKey;
  const pem = privateKey.toString();
  let object = keyCache.get(pem);
  if (!object) {
    object = createPrivateKey(pem);
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(pem, object);
  }
  return object;
}

function prepare(key: DkimKey): PreparedKey {
  if (!DOMAIN.test(key.domain)) throw new TypeError(`invalid DKIM signing domain: ${key.domain}`);
  if (!DOMAIN.test(key.selector)) throw new TypeError(`invalid DKIM selector: ${key.selector}`);
  if (key.identity !== undefined && !/^[^\s;@]*@[^\s;@]+$/.test(key.identity)) {
    throw new TypeError(`invalid DKIM identity: ${key.identity}`);
  }
  const keyObject = parseKey(key.privateKey);
  let algorithm: DkimAlgorithm;
  if (keyObject.asymmetricKeyType === 'ed25519') algorithm = 'ed25519-sha256';
  else if (keyObject.asymmetricKeyType === 'rsa') {
    const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw new RangeError(`RSA DKIM keys must have at least ${MIN_RSA_BITS} bits, got ${bits}`);
    algorithm = 'rsa-sha256';
  } else throw new TypeError(`unsupported DKIM key type: ${keyObject.asymmetricKeyType}`);
  const [headerCanon = 'relaxed', bodyCanon = 'relaxed'] = (key.canonicalization ?? 'relaxed/relaxed').split(
    '/',
  ) as Canon[];
  for (const canon of [headerCanon, bodyCanon]) {
    if (canon !== 'simple' && canon !== 'relaxed')
      throw new TypeError(`invalid canonicalization: ${key.canonicalization}`);
  }
  return { key, keyObject, algorithm, headerCanon, bodyCanon };
}

/** The h= list: each present field once per occurrence, over-signed fields once more. */
function signedNames(fields: readonly HeaderField[], key: DkimKey): string[] {
  const wanted = (key.headers ?? DEFAULT_SIGNED_HEADERS).map((name) => name.toLowerCase());
  const oversign = (key.oversign ?? OVERSIGNED_HEADERS).map((name) => name.toLowerCase());
  const names: string[] = [];
  for (const name of wanted) {
    const count = fields.filter((field) => field.key === name).length;
    for (let i = 0; i < count; i++) names.push(name);
  }
  for (const name of oversign) names.push(name);
  if (!names.includes('from')) names.unshift('from');
  return names;
}

/** The header data to hash (§5.4.2): for each h= name the next unused instance from the bottom. */
function headerData(fields: readonly HeaderField[], names: readonly string[], canon: Canon): string {
  const used = new Set<number>();
  let data = '';
  for (const name of names) {
    for (let i = fields.length - 1; i >= 0; i--) {
      const field = fields[i];
      if (field && field.key === name && !used.has(i)) {
        used.add(i);
        data += canonicalizeHeader(field.raw, canon);
        break;
      }
    }
  }
  return data;
}

/** Folds `tag=value` items into a header field of lines under ~78 octets (RFC 5322 §2.1.1). */
function foldTags(prefix: string, tags: readonly string[]): string {
  let out = prefix;
  let lineLength = prefix.length;
  for (const [index, tag] of tags.entries()) {
    const piece = index === tags.length - 1 ? tag : `${tag};`;
    if (lineLength + 1 + piece.length > 76) {
      out += `\r\n\t${piece}`;
      lineLength = 1 + piece.length;
    } else {
      out += ` ${piece}`;
      lineLength += 1 + piece.length;
    }
  }
  return out;
}

function wrap(text: string, width: number): string[] {
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += width) parts.push(text.slice(i, i + width));
  return parts;
}

/**
 * Signs a message with one or more keys and resolves with the DKIM-Signature header fields to
 * put on top of it, newest (last key) first, each ending in CRLF. The message is read once, as a
 * stream if given one. Throws for a key that cannot sign (wrong type, RSA under 2048 bits) and
 * for a message without a From field (RFC 6376 §5.4).
 */
export async function signDkim(
  message: MessageSource,
  keys: DkimKey | readonly DkimKey[],
  options: SignDkimOptions = {},
): Promise<string> {
  const prepared = (Array.isArray(keys) ? (keys as readonly DkimKey[]) : [keys as DkimKey]).map(prepare);
  if (prepared.length === 0) throw new TypeError('signDkim needs at least one key');
  const hashers = new Map<Canon, BodyHasher>();
  for (const { bodyCanon } of prepared)
    if (!hashers.has(bodyCanon)) hashers.set(bodyCanon, new BodyHasher(bodyCanon));
  const fields = await readMessage(message, (chunk) => {
    for (const hasher of hashers.values()) hasher.update(chunk);
  });
  if (!fields.some((field) => field.key === 'from'))
    throw new TypeError('cannot sign a message without a From header field');
  const bodyHashes = new Map([...hashers].map(([canon, hasher]) => [canon, hasher.digest()]));
  const timestamp = Math.floor((options.now?.() ?? new Date()).getTime() / 1000);

  const signatures: string[] = [];
  for (const { key, keyObject, algorithm, headerCanon, bodyCanon } of prepared) {
    const names = signedNames(fields, key);
    const tags = [
      'v=1',
      `a=${algorithm}`,
      `c=${headerCanon}/${bodyCanon}`,
      `d=${key.domain}`,
      `s=${key.selector}`,
      ...(key.identity ? [`i=${key.identity}`] : []),
      `t=${timestamp}`,
      ...(options.expiresInSeconds !== undefined ? [`x=${timestamp + options.expiresInSeconds}`] : []),
      `h=${names.join(':')}`,
      `bh=${bodyHashes.get(bodyCanon)}`,
      'b=',
    ];
    const unsigned = foldTags('DKIM-Signature:', tags);
    const data =
      headerData(fields, names, headerCanon) + canonicalizeHeader(unsigned, headerCanon).replace(/\r\n$/, '');
    // On the thread pool: an RSA-2048 signature is about half a millisecond the event loop keeps.
    const signature =
      algorithm === 'rsa-sha256'
        ? await signAsync('sha256', Buffer.from(data, 'latin1'), keyObject)
        : await signAsync(null, createHash('sha256').update(data, 'latin1').digest(), keyObject);
    const lines = wrap(signature.toString('base64'), 72);
    signatures.unshift(`${unsigned}${lines.map((line) => `\r\n\t${line}`).join('')}\r\n`);
  }
  return signatures.join('');
}
