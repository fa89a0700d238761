// SmtpError: the one error type for every SMTP-level failure, both replies we send and
// replies parsed from remote servers (RFC 5321 §4.2 reply codes, RFC 3463 enhanced codes).
// Its message is safe to show a peer; detail belongs in `cause` and the log.

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}$/;

export class SmtpError extends Error {
  readonly code: number;
  readonly enhanced: string;

  constructor(code: number, enhanced: string, message: string, options?: ErrorOptions) {
    super(message, options);
    if (!Number.isInteger(code) || code < 400 || code > 599) {
      throw new RangeError(`SMTP error code must be 4xx or 5xx, got ${code}`);
    }
    if (!ENHANCED.test(enhanced) || enhanced[0] !== String(code)[0]) {
      throw new RangeError(`enhanced status ${enhanced} does not fit reply code ${code}`);
    }
    this.name = 'SmtpError';
    this.code = code;
    this.enhanced = enhanced;
  }

  /** 4xx: the same request may succeed later. */
  get temporary(): boolean {
    return this.code < 500;
  }

  /** The reply line as sent on the wire, without CRLF: `451 4.3.0 text`. */
  get reply(): string {
    return `${this.code} ${this.enhanced} ${this.message}`;
  }

  /**
   * Anything that is not already an SmtpError becomes `451 4.3.0`: unknown failures are
   * temporary (fail closed, retry later), and their detail stays in `cause`.
   */
  static from(error: unknown): SmtpError {
    if (error instanceof SmtpError) return error;
    return new SmtpError(451, '4.3.0', 'Temporary local problem, try again later', { cause: error });
  }

  /**
   * Builds an SmtpError from a remote reply (code and text lines). When the peer sent no
   * enhanced code, one is derived from the reply class (X.0.0).
   */
  static fromReply(code: number, lines: readonly string[]): SmtpError {
    const first = lines[0] ?? '';
    const match = /^([245]\.\d{1,3}\.\d{1,3})\s*(.*)$/.exec(first);
    const klass = Math.floor(code / 100);
    const enhanced = match?.[1] && match[1][0] === String(klass) ? match[1] : `${klass}.0.0`;
    const text = [match ? (match[2] ?? '') : first, ...lines.slice(1)].join(' ').trim();
    return new SmtpError(
      code >= 400 && code <= 599 ? code : 451,
      code >= 400 && code <= 599 ? enhanced : '4.0.0',
      text,
    );
  }
}
