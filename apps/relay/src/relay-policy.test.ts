import { parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { relayRefusal, senderAllowed } from './relay-policy.ts';

const local = new Set(['relay.test']);
const outsider = { authenticated: false, trusted: false };

describe('relay policy', () => {
  it('lets authenticated and trusted clients relay anywhere', () => {
    expect(
      relayRefusal(parseAddress('bob@example.net'), { authenticated: true, trusted: false }, local),
    ).toBeNull();
    expect(
      relayRefusal(parseAddress('bob@example.net'), { authenticated: false, trusted: true }, local),
    ).toBeNull();
  });

  it('refuses routing characters in local parts of local domains for outsiders', () => {
    for (const text of ['a%b@relay.test', 'b!a@relay.test', '"a@b"@relay.test']) {
      expect(relayRefusal(parseAddress(text), outsider, local)?.code).toBe(554);
    }
    expect(relayRefusal(parseAddress('postmaster@relay.test'), outsider, local)).toBeNull();
  });

  it('allows only granted senders: an address, a domain or anything', () => {
    const grants = new Map([
      ['alice', ['alice@example.org']],
      ['news', ['example.org']],
      ['root', ['*']],
    ]);
    expect(senderAllowed('alice', parseAddress('Alice@example.org'), grants)).toBe(true);
    expect(senderAllowed('alice', parseAddress('bob@example.org'), grants)).toBe(false);
    expect(senderAllowed('news', parseAddress('any@example.org'), grants)).toBe(true);
    expect(senderAllowed('news', parseAddress('any@sub.example.org'), grants)).toBe(false);
    expect(senderAllowed('root', parseAddress('x@y.example'), grants)).toBe(true);
    expect(senderAllowed('nobody', parseAddress('x@y.example'), grants)).toBe(false);
  });
});
