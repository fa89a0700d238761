// smtp-server's classes, loaded with require(). Its ESM build imports nodemailer, which is
// CommonJS, and CommonJS loaded from ESM costs Node about 2 MB more live heap than through
// require() (measured: `import('smtp-server')` leaves 8.1 MB in use, `require('smtp-server')` 5.9).
// A server's baseline heap decides when V8 starts full collections: with 2 MB more, bare
// smtp-server itself runs a mark-compact every ~40 ms under 100 KB messages instead of every few
// hundred. Every file of this package takes smtp-server's classes from here, so that one copy of
// them is loaded (the CommonJS one), never both.

import { createRequire } from 'node:module';
import type * as ServerModule from 'smtp-server';
import type * as ConnectionModule from 'smtp-server/lib/smtp-connection.js';
import type * as StreamModule from 'smtp-server/lib/smtp-stream.js';

const require = createRequire(import.meta.url);

export const SMTPServer: typeof ServerModule.SMTPServer = (require('smtp-server') as typeof ServerModule)
  .SMTPServer;
export type SMTPServer = ServerModule.SMTPServer;

export const SMTPConnection: typeof ConnectionModule.SMTPConnection = (
  require('smtp-server/lib/smtp-connection.js') as typeof ConnectionModule
).SMTPConnection;
export type SMTPConnection = ConnectionModule.SMTPConnection;

export const SMTPStream: typeof StreamModule.SMTPStream = (
  require('smtp-server/lib/smtp-stream.js') as typeof StreamModule
).SMTPStream;
export type SMTPStream = StreamModule.SMTPStream;
