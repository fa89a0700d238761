// A service's logger: pino, JSON lines, with STYLE.md's fixed field names (queueId sessionId
// remoteAddr mailFrom rcpt smtpCode enhanced attempt delayMs) and the app's name on every line.
// Never bodies, passwords or keys.

import { type DestinationStream, pino } from 'pino';

export interface Logger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  debug(fields: object, message?: string): void;
}

export interface LoggerOptions {
  /** Written as `app` on every line: `relay`, `forwarder`. */
  readonly app: string;
  /** pino's levels: fatal, error, warn, info, debug, trace, silent. */
  readonly level: string;
  /** Default: standard output. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    { level: options.level, base: { app: options.app }, timestamp: pino.stdTimeFunctions.isoTime },
    options.destination ?? pino.destination(1),
  );
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
