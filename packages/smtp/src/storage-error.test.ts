import { describe, expect, it } from 'vitest';
import { SmtpError } from './smtp-error.ts';
import { storageError } from './storage-error.ts';

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe('storageError', () => {
  it('makes a full disk 452 4.3.1, whichever store said so, and keeps the cause', () => {
    const sqliteFull = Object.assign(new Error('database or disk is full'), { errcode: 13 });
    const sqliteFullExtended = Object.assign(new Error('disk full'), { errcode: 13 | (1 << 8) });
    for (const cause of [
      withCode('ENOSPC'),
      withCode('EDQUOT'),
      withCode('EFBIG'),
      withCode('53100'),
      sqliteFull,
      sqliteFullExtended,
    ]) {
      const error = storageError(cause);
      expect(error).toMatchObject({ code: 452, enhanced: '4.3.1', temporary: true });
      expect(error.cause).toBe(cause);
    }
  });

  it('makes any other failure 451 4.3.0, and passes an SmtpError through', () => {
    expect(storageError(withCode('EIO'))).toMatchObject({ code: 451, enhanced: '4.3.0' });
    expect(storageError(Object.assign(new Error('busy'), { errcode: 5 }))).toMatchObject({ code: 451 });
    const refusal = new SmtpError(552, '5.3.4', 'Too big');
    expect(storageError(refusal)).toBe(refusal);
  });
});
