// DKIM keys and their DNS records (RFC 6376 §3.6.1 key record, RFC 8463 §4.2 ed25519 keys,
// RFC 1035 §3.3.14 TXT character-strings of at most 255 octets).

import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';

export type DkimKeyType = 'ed25519' | 'rsa';

export interface GenerateDkimKeyOptions {
  readonly type?: DkimKeyType;
  /** RSA modulus length (default 2048, at least 2048). */
  readonly bits?: number;
}

export interface GeneratedDkimKey {
  readonly type: DkimKeyType;
  /** PKCS#8 PEM: what signDkim, sealArc and `mailyard dkim keygen --out` use. */
  readonly privateKey: string;
  /** The p= value of the key record. */
  readonly publicKey: string;
}

/** Generates a DKIM key pair: ed25519 (default) or RSA. */
export function generateDkimKey(options: GenerateDkimKeyOptions = {}): GeneratedDkimKey {
  const type = options.type ?? 'ed25519';
  if (type === 'rsa') {
    const bits = options.bits ?? 2048;
    if (bits < 2048) throw new RangeError(`RSA DKIM keys need at least 2048 bits, got ${bits}`);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    return {
      type,
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: publicKeyValue(privateKey),
    };
  }
  if (type !== 'ed25519') throw new TypeError(`unsupported DKIM key type: ${String(type)}`);
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    type,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKeyValue(privateKey),
  };
}

/**
 * The p= value for a private or public key: base64 SubjectPublicKeyInfo for RSA (RFC 6376
 * §3.6.1), the bare 32-octet key for Ed25519 (RFC 8463 §4.2).
 */
export function publicKeyValue(key: string | Buffer | KeyObject): string {
  const object = key instanceof KeyObject ? key : toKeyObject(key);
  const publicKey = object.type === 'private' ? createPublicKey(object) : object;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return (publicKey.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

function toKeyObject(pem: string | Buffer): KeyObject {
  const text = pem.toString();
  return text.includes('PRIVATE KEY') ? createPrivateKey(text) : createPublicKey(text);
}

export interface DkimDnsRecord {
  /** `<selector>._domainkey.<domain>` */
  readonly name: string;
  readonly type: 'TXT';
  /** The whole record text, e.g. `v=DKIM1; k=ed25519; p=…`. */
  readonly value: string;
  /** The value split into character-strings of at most 255 octets, in order. */
  readonly strings: readonly string[];
  /** A zone-file line: `name. IN TXT ( "…" "…" )`. */
  readonly zoneLine: string;
}

export interface DkimDnsRecordOptions {
  readonly domain: string;
  readonly selector: string;
  /** The private or public key (PEM or KeyObject). */
  readonly key: string | Buffer | KeyObject;
  /** t=y: the domain is testing DKIM (RFC 6376 §3.6.1). */
  readonly testing?: boolean;
}

/** The TXT record to publish for a selector. */
export function dkimDnsRecord(options: DkimDnsRecordOptions): DkimDnsRecord {
  const object = options.key instanceof KeyObject ? options.key : toKeyObject(options.key);
  const k = object.asymmetricKeyType === 'ed25519' ? 'ed25519' : 'rsa';
  const value = `v=DKIM1; k=${k};${options.testing ? ' t=y;' : ''} p=${publicKeyValue(object)}`;
  const strings = splitTxt(value);
  const name = `${options.selector}._domainkey.${options.domain}`.toLowerCase();
  return {
    name,
    type: 'TXT',
    value,
    strings,
    zoneLine: `${name}. IN TXT ( ${strings.map((s) => `"${s}"`).join(' ')} )`,
  };
}

/** Splits TXT data into character-strings of at most 255 octets (RFC 1035 §3.3). */
export function splitTxt(value: string, size = 255): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const parts: string[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.subarray(i, i + size).toString('utf8'));
  return parts.length > 0 ? parts : [''];
}
