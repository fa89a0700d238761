// Moves one message from smtp-server's DATA stream to the backend, through the data guard
// (SIZE and bare line ends, see data-guard.ts), with the Received: header in front (RFC 5321
// §4.4). Streaming end to end with backpressure, so memory does not grow with message size;
// once the guard refuses the message, the rest is read and dropped (RFC 1870 §6: the server
// still reads to the end of DATA before it replies). Plain stream events rather than async
// iteration: this runs once per message and sits on the server's hot path.

import { Readable } from 'node:stream';
import { SmtpError } from '../smtp-error.ts';
import type { DataGuard } from './data-guard.ts';

export interface ReceiveMessageInput {
  /** smtp-server's dot-unstuffed DATA stream. */
  readonly source: Readable;
  readonly guard: DataGuard;
  /** Prepended to what the backend reads (the Received: header). */
  readonly header: string;
  /** The backend's data(), given the stream it reads the message from. */
  // biome-ignore lint/suspicious/noConfusingVoidType: `async data() {}` (resolving nothing) must fit.
  deliver(message: Readable): Promise<string | void>;
}

export type ReceiveOutcome =
  | { readonly ok: true; readonly reply: string | undefined }
  | { readonly ok: false; readonly error: SmtpError };

const HIGH_WATER_MARK = 64 * 1024;

function ignore(): void {}

export function receiveMessage(input: ReceiveMessageInput): Promise<ReceiveOutcome> {
  const { source, guard } = input;
  return new Promise<ReceiveOutcome>((resolve) => {
    let paused = false;
    let settled = false;
    let done = false;
    const resume = () => {
      if (!paused) return;
      paused = false;
      source.resume();
    };
    const message = new Readable({ highWaterMark: HIGH_WATER_MARK, read: resume });
    // A backend that stopped reading must not turn our destroy(error) into an uncaught 'error'.
    message.on('error', ignore);
    // A backend that gave up on the stream must not leave the client's upload paused.
    message.once('close', resume);

    let outcome: Promise<ReceiveOutcome>;
    try {
      outcome = Promise.resolve(input.deliver(message)).then(
        (reply) => ({ ok: true, reply: typeof reply === 'string' ? reply : undefined }),
        (error: unknown) => ({ ok: false, error: SmtpError.from(error) }),
      );
    } catch (error) {
      outcome = Promise.resolve({ ok: false, error: SmtpError.from(error) });
    }
    void outcome.then(() => {
      settled = true;
      resume();
    });

    const push = (bytes: Buffer | string) => {
      if (settled || message.destroyed || bytes.length === 0) return;
      if (!message.push(bytes)) {
        paused = true;
        source.pause();
      }
    };
    const finish = (result: ReceiveOutcome) => {
      if (done) return;
      done = true;
      source.off('data', onData);
      resolve(result);
    };
    const refuse = (violation: SmtpError) => {
      if (!message.destroyed) message.destroy(violation);
      resume();
    };
    const onData = (chunk: Buffer) => {
      const bytes = guard.push(chunk);
      if (bytes === null) refuse(guard.violation ?? new SmtpError(550, '5.6.0', 'Message refused'));
      else push(bytes);
    };

    push(input.header);
    source.on('data', onData);
    source.once('end', () => {
      const tail = guard.end();
      if (tail === null || guard.violation) {
        const violation = guard.violation ?? new SmtpError(550, '5.6.0', 'Message refused');
        refuse(violation);
        // The reply does not wait for a backend that may never notice the destroyed stream.
        finish({ ok: false, error: violation });
        return;
      }
      push(tail);
      if (!message.destroyed) message.push(null);
      void outcome.then((result) => {
        // A backend that answered without reading everything: drop what it left.
        if (!message.destroyed && !message.readableEnded) message.destroy();
        finish(result);
      });
    });
    const abort = (error?: Error) => {
      if (done) return;
      // The client went away mid-DATA: abort the backend's read as well.
      const reason = error ?? new Error('connection closed during DATA');
      if (!message.destroyed) message.destroy(reason);
      finish({ ok: false, error: SmtpError.from(reason) });
    };
    source.once('error', abort);
    source.once('close', () => {
      if (!source.readableEnded) abort();
    });
  });
}
