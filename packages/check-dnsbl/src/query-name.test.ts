import { describe, expect, it } from 'vitest';
import { domainQueryName, ipQueryName, reverseIp, unmapIPv4 } from './query-name.ts';

describe('query names (RFC 5782)', () => {
  it('reverses the octets of an IPv4 address under the zone (§2.1)', () => {
    expect(ipQueryName('192.0.2.99', 'bl.example')).toBe('99.2.0.192.bl.example');
    expect(reverseIp('127.0.0.2')).toBe('2.0.0.127');
  });

  it('writes an IPv6 address as 32 reversed nibbles (§2.4, its example)', () => {
    expect(reverseIp('2001:db8:1:2:3:4:567:89ab')).toBe(
      'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2',
    );
  });

  it('expands :: and the IPv6 test point ::FFFF:7F00:2 (§5)', () => {
    expect(reverseIp('::FFFF:7F00:2')).toBe(
      '2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0',
    );
    expect(reverseIp('2001:db8::1')).toBe(`1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2`);
  });

  it('looks up an IPv4-mapped client as its IPv4 address', () => {
    expect(unmapIPv4('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(ipQueryName('::ffff:127.0.0.2', 'bl.example')).toBe('2.0.0.127.bl.example');
  });

  it('puts a domain under the zone, lower-cased (§3)', () => {
    expect(domainQueryName('Spam.Example.', 'dbl.example')).toBe('spam.example.dbl.example');
  });

  it('refuses what is not an address', () => {
    expect(() => reverseIp('host.example')).toThrow(RangeError);
  });
});
