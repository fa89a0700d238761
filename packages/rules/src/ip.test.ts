import { describe, expect, it } from 'vitest';
import { type Cidr, cidrContains, parseCidr, parseIp } from './ip.ts';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

function inside(prefix: string, ip: string): boolean {
  const address = parseIp(ip);
  if (!address) throw new Error(`bad ip ${ip}`);
  return cidrContains(cidr(prefix), address);
}

describe('clientIp prefixes', () => {
  it('matches IPv4 addresses inside a prefix and not outside', () => {
    expect(inside('192.0.2.0/24', '192.0.2.200')).toBe(true);
    expect(inside('192.0.2.0/24', '192.0.3.1')).toBe(false);
    expect(inside('10.0.0.0/8', '10.255.1.2')).toBe(true);
    expect(inside('0.0.0.0/0', '203.0.113.9')).toBe(true);
  });

  it('treats a bare address as a /32 or /128', () => {
    expect(inside('192.0.2.1', '192.0.2.1')).toBe(true);
    expect(inside('192.0.2.1', '192.0.2.2')).toBe(false);
    expect(inside('2001:db8::1', '2001:db8::1')).toBe(true);
    expect(inside('2001:db8::1', '2001:db8::2')).toBe(false);
  });

  it('matches IPv6 prefixes with compressed zeros', () => {
    expect(inside('2001:db8::/32', '2001:db8:ffff::1')).toBe(true);
    expect(inside('2001:db8::/32', '2001:db9::1')).toBe(false);
    expect(inside('fe80::/10', 'febf::1')).toBe(true);
    expect(inside('::1/128', '::1')).toBe(true);
  });

  it('compares an IPv4-mapped IPv6 client with IPv4 prefixes', () => {
    expect(inside('192.0.2.0/24', '::ffff:192.0.2.7')).toBe(true);
    expect(inside('::ffff:192.0.2.0/120', '192.0.2.9')).toBe(true);
  });

  it('never matches an IPv4 client against an IPv6 prefix', () => {
    expect(inside('::/0', '192.0.2.1')).toBe(false);
  });

  it('rejects prefixes with host bits set, bad lengths or bad addresses', () => {
    expect(parseCidr('192.0.2.1/24')).toMatch(/host bits set.*192\.0\.2\.0\/24/);
    expect(parseCidr('192.0.2.0/33')).toMatch(/prefix length/);
    expect(parseCidr('2001:db8::/129')).toMatch(/prefix length/);
    expect(parseCidr('300.1.1.1')).toMatch(/not an IP/);
    expect(parseCidr('example.com')).toMatch(/not an IP/);
  });

  it('returns undefined for a client IP that is not an address', () => {
    expect(parseIp('not-an-ip')).toBeUndefined();
  });
});
