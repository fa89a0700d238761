// Client IP and CIDR matching for the `clientIp` matcher (IPv4 RFC 4632 prefixes, IPv6 RFC 4291
// §2.3 prefixes). An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2), which a
// dual-stack socket reports for IPv4 peers, is compared as the IPv4 address it carries.
// Pure arithmetic on bigints: no DNS, no sockets.

import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  readonly version: 4 | 6;
  readonly value: bigint;
}

export interface Cidr {
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly bits: number;
  /** As written in the configuration, for explanations. */
  readonly text: string;
}

function parseIPv4(text: string): bigint {
  let value = 0n;
  for (const part of text.split('.')) value = (value << 8n) | BigInt(Number(part));
  return value;
}

function parseIPv6(text: string): bigint {
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::');
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const missing = 8 - leftGroups.length - rightGroups.length;
  const groups = [
    ...leftGroups,
    ...Array<string>(right === undefined ? 0 : missing).fill('0'),
    ...rightGroups,
  ];
  let value = 0n;
  for (const group of groups) value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses an IPv4 or IPv6 address; returns undefined when it is neither. */
export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { version: 4, value: parseIPv4(text) };
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const zoneless = bare.replace(/%.*$/, '');
  if (!isIPv6(zoneless)) return undefined;
  const value = parseIPv6(zoneless);
  if (value >> 32n === 0xffffn) return { version: 4, value: value & 0xffffffffn };
  return { version: 6, value };
}

/** Parses `192.0.2.0/24`, `2001:db8::/32` or a single address (a /32 or /128). */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const ip = isIPv4(addressText)
    ? ({ version: 4, value: parseIPv4(addressText) } as const)
    : isIPv6(addressText)
      ? ({ version: 6, value: parseIPv6(addressText) } as const)
      : undefined;
  if (!ip) return `'${text}' is not an IP address or CIDR prefix`;
  const max = ip.version === 4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const bitsText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
      return `'${text}' has a bad prefix length (0..${max})`;
    }
    bits = Number(bitsText);
  }
  // An IPv4-mapped prefix such as ::ffff:10.0.0.0/104 is written for IPv4 peers: store it as IPv4.
  if (ip.version === 6 && bits >= 96 && ip.value >> 32n === 0xffffn) {
    return { version: 4, base: mask(ip.value & 0xffffffffn, bits - 96, 32), bits: bits - 96, text };
  }
  const base = mask(ip.value, bits, max);
  if (base !== ip.value)
    return `'${text}' has host bits set (did you mean ${formatBase(ip.version, base, bits)}?)`;
  return { version: ip.version, base, bits, text };
}

function mask(value: bigint, bits: number, max: number): bigint {
  const hostBits = BigInt(max - bits);
  return (value >> hostBits) << hostBits;
}

function formatBase(version: 4 | 6, base: bigint, bits: number): string {
  if (version === 4) {
    const octets = [24n, 16n, 8n, 0n].map((shift) => String((base >> shift) & 0xffn));
    return `${octets.join('.')}/${bits}`;
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((base >> shift) & 0xffffn).toString(16));
  return `${groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}/${bits}`;
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version !== ip.version) return false;
  return mask(ip.value, cidr.bits, ip.version === 4 ? 32 : 128) === cidr.base;
}
