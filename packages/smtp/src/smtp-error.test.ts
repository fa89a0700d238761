import { describe, expect, it } from 'vitest';
import { SmtpError } from './smtp-error.ts';

describe('SmtpError', () => {
  it('is temporary for 4xx and permanent for 5xx', () => {
    expect(new SmtpError(451, '4.3.0', 'later').temporary).toBe(true);
    expect(new SmtpError(550, '5.1.1', 'no such user').temporary).toBe(false);
  });

  it('refuses an enhanced code of another class than the reply code', () => {
    expect(() => new SmtpError(550, '4.1.1', 'x')).toThrow(RangeError);
  });

  it('turns unknown errors into 451 4.3.0 and keeps the cause', () => {
    const cause = new Error('disk on fire');
    const error = SmtpError.from(cause);
    expect([error.code, error.enhanced, error.cause]).toEqual([451, '4.3.0', cause]);
    expect(error.message).not.toContain('disk');
  });

  it('parses a remote reply with or without an enhanced code', () => {
    const withCode = SmtpError.fromReply(550, ['5.1.1 <x@example.com>: user unknown']);
    expect([withCode.code, withCode.enhanced, withCode.message]).toEqual([
      550,
      '5.1.1',
      '<x@example.com>: user unknown',
    ]);
    const bare = SmtpError.fromReply(421, ['Service not available']);
    expect([bare.code, bare.enhanced]).toEqual([421, '4.0.0']);
  });
});
