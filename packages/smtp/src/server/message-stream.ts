// The stream one message travels in after DATA, from smtp-server's parser (which has removed
// the dot-stuffing and found the CRLF.CRLF end, RFC 5321 §4.1.1.4 and §4.5.2) straight to the
// backend: the Received: header (RFC 5321 §4.4) in front, every chunk checked by the data guard
// (SIZE, RFC 1870 §6, and bare CR / LF, see data-guard.ts) on its way through. It takes the
// place of smtp-server's own PassThrough, so a message crosses one stream, not two: this runs
// for every message and is the server's hot path.
//
// Once the guard refuses the message, the stream is destroyed with that SmtpError (the backend
// sees it at once) and the parser drops the rest; once the backend has answered, whatever it
// did not read is drained. Either way the reply waits for the end of DATA (RFC 1870 §6: the
// server reads to the end before it replies), which the parser marks by calling end().

import { PassThrough, type TransformCallback } from 'node:stream';
import type { Envelope } from '../envelope.ts';
import { SmtpError } from '../smtp-error.ts';
import type { SmtpSession } from './backend.ts';
import { createDataGuard, type DataGuard, type DataGuardOptions } from './data-guard.ts';

export type MessageOutcome =
  | { readonly ok: true; readonly reply: string | undefined }
  | { readonly ok: false; readonly error: SmtpError };

function ignore(): void {}

/** Up to this size the first chunk is copied behind the header, rather than sent after it. */
const HEADED_CHUNK = 16 * 1024;

// A PassThrough by type (smtp-server's data stream is one); its _transform is the guard's.
export class MessageStream extends PassThrough {
  // smtp-server's parser keeps these two up to date on its data stream (SMTPStream._countDataBytes).
  byteLength = 0;
  sizeExceeded = false;
  readonly guard: DataGuard;
  /** The parser reached the end of DATA (it called end()). */
  private dataEnded = false;
  /** Inside end(), that is inside the parser, which is still in data mode. */
  private ending = false;
  /** The guard has seen the last byte (flush ran, or there is nothing left to check). */
  private checked = false;
  /** The backend has answered, or there is no backend: chunks are checked, then dropped. */
  private draining = false;
  private outcome: MessageOutcome | null = null;
  private done: ((outcome: MessageOutcome) => void) | null = null;
  /** The Received: header, until it goes out in front of the first chunk. */
  private header: string | null = null;

  constructor(options: DataGuardOptions) {
    // Node's default high-water marks (64 KiB) bound what one message holds in memory.
    super();
    this.guard = createDataGuard(options);
    // A backend that stopped listening must not turn destroy(violation) into an uncaught 'error'.
    this.on('error', ignore);
  }

  /**
   * Hands the message to the backend with `header` in front; `done` gets the outcome once the
   * end of DATA is reached and the backend has answered (or the guard refused the message).
   */
  deliver(
    header: string,
    session: SmtpSession,
    envelope: Envelope,
    done: (outcome: MessageOutcome) => void,
  ): void {
    this.done = done;
    this.header = header;
    // biome-ignore lint/suspicious/noConfusingVoidType: the backend contract (`async data() {}` fits).
    let answer: Promise<string | undefined | void>;
    try {
      answer = session.data(this, envelope);
    } catch (error) {
      this.settle({ ok: false, error: SmtpError.from(error) });
      return;
    }
    Promise.resolve(answer).then(
      (reply) => this.settle({ ok: true, reply: typeof reply === 'string' ? reply : undefined }),
      (error: unknown) => this.settle({ ok: false, error: SmtpError.from(error) }),
    );
  }

  /** No backend takes this message: read it to the end, then `outcome`. */
  discard(outcome: MessageOutcome, done: (outcome: MessageOutcome) => void): void {
    this.done = done;
    this.settle(outcome);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = this.guard.push(chunk);
    if (bytes === null) {
      callback();
      this.refuse();
    } else if (this.draining || bytes.length === 0) {
      callback();
    } else if (this.header !== null) {
      callback(null, this.headed(bytes));
    } else {
      callback(null, bytes);
    }
  }

  /**
   * The header in front of the first chunk: one buffer and one 'data' event for both when the
   * chunk is small (most messages are), else the header as a chunk of its own.
   */
  private headed(bytes: Buffer): Buffer {
    const header = this.header ?? '';
    this.header = null;
    if (bytes.length > HEADED_CHUNK) {
      this.push(header);
      return bytes;
    }
    const length = Buffer.byteLength(header);
    const out = Buffer.allocUnsafe(length + bytes.length);
    out.write(header, 0, length);
    bytes.copy(out, length);
    return out;
  }

  override _flush(callback: TransformCallback): void {
    const tail = this.guard.end();
    this.checked = true;
    if (tail === null) {
      callback();
      this.refuse();
      return;
    }
    if (!this.draining) {
      // An empty message is its header alone.
      if (this.header !== null) this.push(this.headed(tail));
      else if (tail.length > 0) this.push(tail);
    }
    callback();
    this.finishIfDone();
  }

  // biome-ignore lint/suspicious/noExplicitAny: mirrors Writable#end's overloads.
  override end(chunk?: any, encoding?: any, callback?: any): this {
    const skipped = this.destroyed;
    this.dataEnded = true;
    this.ending = true;
    try {
      super.end(chunk, encoding, callback);
      // A destroyed stream runs no flush: nothing is left to check.
      if (skipped) this.checked = true;
      this.finishIfDone();
    } finally {
      this.ending = false;
    }
    return this;
  }

  private refuse(): void {
    const violation = this.guard.violation ?? new SmtpError(550, '5.6.0', 'Message refused');
    if (!this.destroyed) this.destroy(violation);
    this.finishIfDone();
  }

  private settle(outcome: MessageOutcome): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    if (!this.readableEnded && !this.destroyed) {
      // The backend answered before reading everything: the rest still passes the guard (a
      // violation later in the message still decides the reply) and is then dropped.
      this.draining = true;
      this.resume();
    }
    this.finishIfDone();
  }

  private finishIfDone(): void {
    const done = this.done;
    if (done === null || !this.dataEnded) return;
    const violation = this.guard.violation;
    let outcome: MessageOutcome;
    // The reply to a refused message does not wait for a backend that may never notice.
    if (violation !== null) outcome = { ok: false, error: violation };
    else if (this.outcome !== null && this.checked) outcome = this.outcome;
    else return;
    this.done = null;
    // Never from inside end(): the parser that called it is still in data mode, and the reply
    // lets it go on with what the client sent after the message.
    if (this.ending) process.nextTick(done, outcome);
    else done(outcome);
  }
}
