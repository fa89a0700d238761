// A store's failed write, as the SMTP reply a server sends for it (RFC 5321 §4.2.1; RFC 3463):
// a full disk is 452 4.3.1 "insufficient system storage", anything else the generic temporary
// 451 4.3.0. Either way the client keeps the message and tries again later.

import { SmtpError } from './smtp-error.ts';

function isStorageFull(error: unknown): boolean {
  const e = error as { errcode?: unknown; code?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  // SQLITE_FULL is 13 (extended codes keep it in the low byte); PostgreSQL disk_full is 53100;
  // a file write gets ENOSPC, EDQUOT over a disk quota, EFBIG past a file size limit.
  return (
    (typeof e.errcode === 'number' && (e.errcode & 0xff) === 13) ||
    e.code === '53100' ||
    e.code === 'ENOSPC' ||
    e.code === 'EDQUOT' ||
    e.code === 'EFBIG'
  );
}

/** A failed write: "disk full" is 452 4.3.1, anything else 451 4.3.0; the detail stays in `cause`. */
export function storageError(error: unknown): SmtpError {
  if (error instanceof SmtpError) return error;
  if (isStorageFull(error))
    return new SmtpError(452, '4.3.1', 'Insufficient system storage', { cause: error });
  return SmtpError.from(error);
}
