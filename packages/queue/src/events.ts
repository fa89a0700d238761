// The queue's events, one per state change, for logs and metrics (STYLE.md: one event per state
// change of a message, fixed field names).

import type { SmtpError } from '@mailyard/smtp';
import type { BounceReason } from './store.ts';

export interface QueuedEvent {
  readonly queueId: string;
  readonly mailFrom: string | null;
  readonly recipients: number;
  readonly size: number;
}

export interface AttemptEvent {
  readonly queueId: string;
  readonly nextHop: string;
  readonly rcpts: readonly string[];
  readonly owner: string;
}

export interface DeliveredEvent {
  readonly queueId: string;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly attempt: number;
  readonly reply: string;
}

export interface DeferredEvent {
  readonly queueId: string;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly attempt: number;
  readonly error: SmtpError;
  readonly nextAttemptAt: Date;
}

export interface BouncedEvent {
  readonly queueId: string;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly error: SmtpError;
  readonly reason: BounceReason;
}

export interface ExpiredEvent {
  readonly queueId: string;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly error: SmtpError;
}

export interface HeldEvent {
  readonly queueId: string;
  readonly rcpts: readonly string[];
  /** Why, when the recipients were held as they were enqueued. */
  readonly reason?: string;
}

export interface DeletedEvent {
  readonly queueId: string;
}

export interface QueueEventMap {
  queued: [QueuedEvent];
  attempt: [AttemptEvent];
  delivered: [DeliveredEvent];
  deferred: [DeferredEvent];
  bounced: [BouncedEvent];
  expired: [ExpiredEvent];
  held: [HeldEvent];
  released: [HeldEvent];
  deleted: [DeletedEvent];
  /** Recipients became due now (enqueue, retry, release): workers in this process wake up. */
  due: [{ readonly queueId: string }];
}

/** A pino-compatible logger; the queue logs one line per state change. */
export interface QueueLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}
