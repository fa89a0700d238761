import { describe, expect, it } from 'vitest';
import { parsePath } from '../address.ts';
import { SmtpError } from '../smtp-error.ts';
import { commandText, parseMailCommand, parseRcptCommand } from './esmtp-command.ts';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SmtpError) return `${error.code} ${error.enhanced}`;
    throw error;
  }
  return 'no error';
}

describe('parseMailCommand', () => {
  it('parses the reverse-path and SIZE, BODY, SMTPUTF8', () => {
    expect(
      parseMailCommand('MAIL FROM:<a@Example.COM> SIZE=1000 BODY=8bitmime SMTPUTF8', { dsn: false }),
    ).toEqual({
      from: { localPart: 'a', domain: 'example.com' },
      params: { size: 1000, body: '8BITMIME', smtputf8: true },
    });
  });

  it('reads the null reverse-path as null', () => {
    expect(parseMailCommand('MAIL FROM:<>', { dsn: false }).from).toBeNull();
  });

  it('decodes the xtext of ENVID once, and RET', () => {
    const { params } = parseMailCommand('MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ+2B1+3D2', { dsn: true });
    expect(params).toEqual({ ret: 'HDRS', envid: 'QQ+1=2' });
  });

  it('refuses DSN parameters when DSN is not advertised with 555 5.5.4', () => {
    expect(codeOf(() => parseMailCommand('MAIL FROM:<a@b.example> RET=FULL', { dsn: false }))).toBe(
      '555 5.5.4',
    );
  });

  it('refuses an unknown parameter with 555 5.5.4', () => {
    expect(codeOf(() => parseMailCommand('MAIL FROM:<a@b.example> XFOO=1', { dsn: true }))).toBe('555 5.5.4');
  });

  it('refuses a UTF-8 local part without SMTPUTF8 with 501 5.1.7', () => {
    expect(codeOf(() => parseMailCommand('MAIL FROM:<δοκιμή@example.com>', { dsn: false }))).toBe(
      '501 5.1.7',
    );
    expect(parseMailCommand('MAIL FROM:<δοκιμή@example.com> SMTPUTF8', { dsn: false }).from?.localPart).toBe(
      'δοκιμή',
    );
  });

  it('refuses malformed ENVID xtext with 501', () => {
    expect(codeOf(() => parseMailCommand('MAIL FROM:<a@b.example> ENVID=a+0Db', { dsn: true }))).toBe(
      '501 5.5.4',
    );
  });
});

describe('parseRcptCommand', () => {
  it('parses NOTIFY and ORCPT, decoding the xtext of ORCPT', () => {
    expect(
      parseRcptCommand('RCPT TO:<b@c.example> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Bx@c.example', {
        dsn: true,
      }),
    ).toEqual({
      address: { localPart: 'b', domain: 'c.example' },
      notify: ['SUCCESS', 'DELAY'],
      orcpt: 'rfc822;b+x@c.example',
    });
  });

  it('reads NOTIFY=NEVER', () => {
    expect(parseRcptCommand('RCPT TO:<b@c.example> NOTIFY=NEVER', { dsn: true }).notify).toBe('NEVER');
  });

  it('refuses NOTIFY=NEVER combined with another value', () => {
    expect(codeOf(() => parseRcptCommand('RCPT TO:<b@c.example> NOTIFY=NEVER,DELAY', { dsn: true }))).toBe(
      '501 5.5.4',
    );
  });

  it('accepts the domainless <postmaster> as postmaster at our domain', () => {
    expect(
      parseRcptCommand('RCPT TO:<Postmaster>', { dsn: false, postmasterDomain: 'MX.example' }).address,
    ).toEqual({
      localPart: 'postmaster',
      domain: 'mx.example',
    });
  });

  it('refuses the null path as a recipient with 501', () => {
    expect(codeOf(() => parseRcptCommand('RCPT TO:<>', { dsn: false }))).toMatch(/^501 /);
  });
});

describe('commandText', () => {
  it('refuses invalid UTF-8 with 501 5.6.7', () => {
    expect(codeOf(() => commandText(Buffer.from([0x4d, 0xff, 0xfe])))).toBe('501 5.6.7');
  });
});

describe('the parser of the server', () => {
  it.each([
    '<a@b.example>',
    '<Some.Body+tag@Mail.Example.COM>',
    "<!#$%&'*+-/=?^_`{|}~@x.example>",
    '<a@xn--bcher-kva.example>',
    '<a@b>',
    '<"quoted local"@b.example>',
    '<@relay.example:a@b.example>',
    '<a@[192.0.2.1]>',
    '<a@München.example>',
  ])('reads %s exactly as parsePath does', (path) => {
    expect(parseMailCommand(`MAIL FROM:${path}`, { dsn: false }).from).toEqual(parsePath(path));
    expect(parseRcptCommand(`RCPT TO:${path}`, { dsn: false }).address).toEqual(parsePath(path));
  });

  it.each([
    ['a label of 64 characters', `<a@${'l'.repeat(64)}.example>`],
    ['a local part of 65 characters', `<${'l'.repeat(65)}@b.example>`],
    ['a domain ending in a dot', '<a@b.example.>'],
    ['a label ending in a hyphen', '<a@b-.example>'],
  ])('refuses %s with 501 5.1.7 after MAIL and 501 5.1.3 after RCPT', (_name, path) => {
    expect(codeOf(() => parseMailCommand(`MAIL FROM:${path}`, { dsn: false }))).toBe('501 5.1.7');
    expect(codeOf(() => parseRcptCommand(`RCPT TO:${path}`, { dsn: false }))).toBe('501 5.1.3');
  });

  it('refuses a mailbox over 253 octets, as smtp-server did', () => {
    const domain = `${'d'.repeat(63)}.${'d'.repeat(63)}.${'d'.repeat(63)}`;
    const longest = `${'l'.repeat(61)}@${domain}`;
    expect(longest.length).toBe(253);
    expect(parseRcptCommand(`RCPT TO:<${longest}>`, { dsn: false }).address.domain).toBe(domain);
    expect(codeOf(() => parseRcptCommand(`RCPT TO:<l${longest}>`, { dsn: false }))).toBe('501 5.1.3');
  });

  it.each([
    ['a zero-width space', 'a\u200bb'],
    ['a C1 control', 'a\u0085b'],
    ['a line separator', 'a\u2028b'],
  ])('refuses %s in a UTF-8 local part', (_name, local) => {
    expect(codeOf(() => parseMailCommand(`MAIL FROM:<${local}@b.example> SMTPUTF8`, { dsn: false }))).toMatch(
      /^501 /,
    );
  });

  it('answers a path without angle brackets, or junk after it, with the address status', () => {
    expect(codeOf(() => parseMailCommand('MAIL FROM:a@b.example', { dsn: false }))).toBe('501 5.1.7');
    expect(codeOf(() => parseRcptCommand('RCPT TO:<a@b.example>x', { dsn: false }))).toBe('501 5.1.3');
    expect(codeOf(() => parseMailCommand('MAIL TO:<a@b.example>', { dsn: false }))).toBe('501 5.1.7');
  });
});
