// The relay's logger: pino, JSON lines, with STYLE.md's fixed field names (queueId sessionId
// remoteAddr mailFrom rcpt smtpCode enhanced attempt delayMs). Never bodies, passwords or keys.

import { type DestinationStream, pino } from 'pino';

export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  debug(fields: object, message?: string): void;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    { level, base: { app: 'relay' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination(1),
  );
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
