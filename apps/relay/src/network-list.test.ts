import { describe, expect, it } from 'vitest';
import { checkNetwork, createNetworkList } from './network-list.ts';

describe('network list', () => {
  it('matches IPv4 and IPv6 prefixes, and IPv4-mapped IPv6 clients against IPv4 prefixes', () => {
    const list = createNetworkList(['127.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    expect(list.includes('127.1.2.3')).toBe(true);
    expect(list.includes('::ffff:127.0.0.1')).toBe(true);
    expect(list.includes('2001:db8::1')).toBe(true);
    expect(list.includes('192.0.2.7')).toBe(true);
    expect(list.includes('192.0.2.8')).toBe(false);
    expect(list.includes('not an ip')).toBe(false);
  });

  it('explains a bad prefix', () => {
    expect(checkNetwork('10.0.0.0/33')).toMatch(/prefix/);
    expect(checkNetwork('ten')).toMatch(/not an IP/);
  });
});
