// Per-stage timeouts of the SMTP client. The defaults are RFC 5321 §4.5.3.2's minimums (a client
// SHOULD wait at least this long), so a slow but working server is never cut off; the connect
// timeout, which the RFC leaves open, follows Postfix's smtp_connect_timeout.

export interface SmtpTimeouts {
  /** TCP connect (and implicit TLS handshake). */
  readonly connect: number;
  /** §4.5.3.2.1 Initial 220 message: 5 minutes. */
  readonly greeting: number;
  /** EHLO/HELO, STARTTLS (handshake included), AUTH, RSET, NOOP: 5 minutes like MAIL. */
  readonly command: number;
  /** §4.5.3.2.2 MAIL command: 5 minutes. */
  readonly mail: number;
  /** §4.5.3.2.3 RCPT command: 5 minutes. */
  readonly rcpt: number;
  /** §4.5.3.2.4 DATA initiation (the 354 reply): 2 minutes. */
  readonly dataInit: number;
  /** §4.5.3.2.5 Data block: 3 minutes for each write to be taken by the server. */
  readonly dataBlock: number;
  /** §4.5.3.2.6 DATA termination (the reply after `.`): 10 minutes. */
  readonly dataEnd: number;
  /** QUIT: not in the RFC; short, because nothing depends on its answer. */
  readonly quit: number;
}

const MINUTE = 60_000;

export const DEFAULT_TIMEOUTS: SmtpTimeouts = {
  connect: 30_000,
  greeting: 5 * MINUTE,
  command: 5 * MINUTE,
  mail: 5 * MINUTE,
  rcpt: 5 * MINUTE,
  dataInit: 2 * MINUTE,
  dataBlock: 3 * MINUTE,
  dataEnd: 10 * MINUTE,
  quit: 10_000,
};

export function resolveTimeouts(overrides: Partial<SmtpTimeouts> = {}): SmtpTimeouts {
  return { ...DEFAULT_TIMEOUTS, ...overrides };
}
