import { describe, expect, it } from 'vitest';
import { formatAddress, needsSmtputf8, parseAddress, parsePath } from './address.ts';
import { SmtpError } from './smtp-error.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof SmtpError ? `${error.code} ${error.enhanced}` : 'not an SmtpError';
  }
  return undefined;
}

describe('parseAddress', () => {
  it('keeps the local part case and lower-cases the domain', () => {
    expect(parseAddress('John.Doe@Example.COM')).toEqual({ localPart: 'John.Doe', domain: 'example.com' });
  });

  it('turns an IDN domain into A-labels', () => {
    expect(parseAddress('user@bücher.example').domain).toBe('xn--bcher-kva.example');
  });

  it('accepts a UTF-8 local part only under SMTPUTF8', () => {
    expect(codeOf(() => parseAddress('用户@example.com'))).toBe('501 5.1.3');
    const address = parseAddress('用户@example.com', { smtputf8: true });
    expect(address.localPart).toBe('用户');
    expect(needsSmtputf8(address)).toBe(true);
  });

  it('unquotes a quoted local part and quotes it again on output', () => {
    const address = parseAddress('"john doe\\"x"@example.com');
    expect(address.localPart).toBe('john doe"x');
    expect(formatAddress(address)).toBe('"john doe\\"x"@example.com');
  });

  it('splits at the last @ outside quotes', () => {
    expect(parseAddress('"a@b"@example.com')).toEqual({ localPart: 'a@b', domain: 'example.com' });
  });

  it('accepts address literals', () => {
    expect(parseAddress('postmaster@[192.0.2.1]').domain).toBe('[192.0.2.1]');
    expect(parseAddress('postmaster@[IPv6:2001:DB8::1]').domain).toBe('[IPv6:2001:db8::1]');
  });

  it.each([
    'no-at-sign',
    '@example.com',
    'user@',
    'user@example.com.',
    'user@-bad.example',
    'a..b@example.com',
    '.a@example.com',
    'user@[300.1.1.1]',
    `${'x'.repeat(65)}@example.com`,
    'a b@example.com',
    '"unterminated@example.com',
  ])('rejects %s with 501 5.1.3', (text) => {
    expect(codeOf(() => parseAddress(text))).toBe('501 5.1.3');
  });
});

describe('parsePath', () => {
  it('reads the null reverse-path as null', () => {
    expect(parsePath('<>')).toBeNull();
  });

  it('ignores a source route and keeps the mailbox', () => {
    expect(parsePath('<@a.example,@b.example:user@c.example>')).toEqual({
      localPart: 'user',
      domain: 'c.example',
    });
  });

  it('requires angle brackets', () => {
    expect(codeOf(() => parsePath('user@example.com'))).toBe('501 5.1.3');
  });
});
