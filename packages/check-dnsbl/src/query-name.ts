// The names a DNS block list is asked about (RFC 5782 §2.1, §2.4, §3): an IPv4 address with
// its octets reversed, an IPv6 address as 32 reversed nibbles, or a domain name, each under the
// list's zone. A client connected over IPv6 with an IPv4-mapped address (`::ffff:192.0.2.1`, as
// dual-stack sockets report IPv4 peers) is looked up as the IPv4 address it is.

import { isIPv4, isIPv6 } from 'node:net';

/** The IPv4 address inside an IPv4-mapped IPv6 address, else the address itself. */
export function unmapIPv4(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped?.[1] ?? ip;
}

/** All 8 groups of an IPv6 address as 32 hex nibbles (a trailing dotted IPv4 part included). */
function nibbles(ip: string): string {
  let text = ip.replace(/%.*$/, '').toLowerCase();
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = text.split('::');
  const head = left === '' ? [] : left.split(':');
  const rest = right === undefined || right === '' ? [] : right.split(':');
  const groups =
    right === undefined ? head : [...head, ...Array(8 - head.length - rest.length).fill('0'), ...rest];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

/** `192.0.2.1` -> `1.2.0.192`; an IPv6 address -> its 32 nibbles, least significant first. */
export function reverseIp(ip: string): string {
  const address = unmapIPv4(ip);
  if (isIPv4(address)) return address.split('.').reverse().join('.');
  if (isIPv6(address)) return [...nibbles(address)].reverse().join('.');
  throw new RangeError(`not an IP address: ${ip}`);
}

/** The name to query for `ip` in an IP block list. */
export function ipQueryName(ip: string, zone: string): string {
  return `${reverseIp(ip)}.${zone}`;
}

/** The name to query for `domain` in a domain block list (RHSBL). */
export function domainQueryName(domain: string, zone: string): string {
  return `${domain.toLowerCase().replace(/\.$/, '')}.${zone}`;
}
