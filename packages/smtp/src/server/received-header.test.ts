import { describe, expect, it } from 'vitest';
import {
  buildReceivedHeader,
  formatDate,
  protocolWord,
  type ReceivedHeaderInput,
} from './received-header.ts';

const BASE: ReceivedHeaderInput = {
  helo: 'client.example',
  esmtp: true,
  remoteAddress: '192.0.2.7',
  hostname: 'mx.example.net',
  secure: false,
  tls: null,
  authenticated: false,
  smtputf8: false,
  id: 'abc.1',
  rcptTo: [{ localPart: 'bob', domain: 'example.net' }],
  date: new Date(Date.UTC(2026, 10, 29, 10, 18, 57)),
};

describe('protocolWord', () => {
  it.each([
    [{ esmtp: false, secure: false, authenticated: false, smtputf8: false }, 'SMTP'],
    [{ esmtp: true, secure: false, authenticated: false, smtputf8: false }, 'ESMTP'],
    [{ esmtp: true, secure: true, authenticated: false, smtputf8: false }, 'ESMTPS'],
    [{ esmtp: true, secure: false, authenticated: true, smtputf8: false }, 'ESMTPA'],
    [{ esmtp: true, secure: true, authenticated: true, smtputf8: false }, 'ESMTPSA'],
    [{ esmtp: true, secure: false, authenticated: false, smtputf8: true }, 'UTF8SMTP'],
    [{ esmtp: true, secure: true, authenticated: true, smtputf8: true }, 'UTF8SMTPSA'],
  ])('names %o as %s (RFC 3848, RFC 6531)', (input, word) => {
    expect(protocolWord(input)).toBe(word);
  });
});

describe('buildReceivedHeader', () => {
  it('writes from, by, with, id, for and the date, folded, ending in CRLF', () => {
    expect(buildReceivedHeader(BASE)).toBe(
      'Received: from client.example ([192.0.2.7])\r\n\tby mx.example.net (Mailyard)\r\n\twith ESMTP\r\n' +
        '\tid abc.1\r\n\tfor <bob@example.net>;\r\n\tSun, 29 Nov 2026 10:18:57 +0000\r\n',
    );
  });

  it('leaves out the for clause when there are several recipients', () => {
    const header = buildReceivedHeader({
      ...BASE,
      rcptTo: [...BASE.rcptTo, { localPart: 'carol', domain: 'example.net' }],
    });
    expect(header).not.toContain('for <');
    expect(header).toContain('id abc.1;\r\n');
  });

  it('records the TLS version and cipher in a comment', () => {
    const header = buildReceivedHeader({
      ...BASE,
      secure: true,
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    });
    expect(header).toContain('with ESMTPS (TLSv1.3 cipher TLS_AES_256_GCM_SHA384)');
  });

  it('cannot be broken by a hostile HELO argument', () => {
    const header = buildReceivedHeader({ ...BASE, helo: 'evil); by x\r\nX-Injected: 1' });
    expect(header.split('\r\n').filter((line) => !line.startsWith('\t'))).toEqual([
      expect.stringMatching(/^Received: from evil\S+ \(\[192\.0\.2\.7\]\)$/),
      '',
    ]);
    expect(header).not.toContain('X-Injected: 1\r\n');
  });

  it('writes an IPv6 client as an IPv6 address literal', () => {
    expect(buildReceivedHeader({ ...BASE, helo: null, remoteAddress: '2001:db8::1' })).toMatch(
      /^Received: from \[IPv6:2001:db8::1\]\r\n/,
    );
  });
});

describe('formatDate', () => {
  it('uses RFC 5322 date-time in UTC', () => {
    expect(formatDate(new Date(Date.UTC(2024, 0, 5, 3, 4, 5)))).toBe('Fri, 5 Jan 2024 03:04:05 +0000');
  });
});
