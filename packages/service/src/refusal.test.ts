import { SmtpError } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import type { Logger } from './logger.ts';
import { createRefuse } from './refusal.ts';

describe('createRefuse', () => {
  it('counts the reply, logs the house fields and throws the error', () => {
    const logged: object[] = [];
    const codes: number[] = [];
    const logger: Logger = { info: (fields) => logged.push(fields), warn() {}, error() {}, debug() {} };
    const refuse = createRefuse(logger, (code) => codes.push(code));
    const error = new SmtpError(550, '5.1.1', 'No such user here');
    const info = { sessionId: 'S1', remoteAddress: '192.0.2.1' } as Parameters<typeof refuse>[1];
    expect(() => refuse(error, info, { rcpt: 'x@example.org' })).toThrow(error);
    expect(codes).toEqual([550]);
    expect(logged).toEqual([
      { sessionId: 'S1', remoteAddr: '192.0.2.1', smtpCode: 550, enhanced: '5.1.1', rcpt: 'x@example.org' },
    ]);
  });
});
