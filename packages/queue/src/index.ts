// @mailyard/queue — the public surface of the durable delivery queue.

export {
  type DelayLedger,
  openDelayLedger,
  openPostgresDelayLedger,
  openSqliteDelayLedger,
} from './delay-ledger.ts';
export {
  createBounceHandler,
  type DelayNotices,
  type DelayNoticesOptions,
  type DsnSenderOptions,
  startDelayNotices,
} from './dsn-notices.ts';
export {
  messageTooBigError,
  noRecipientsError,
  queueClosedError,
  storageError,
  storeClosedError,
} from './errors.ts';
export type {
  AttemptEvent,
  BouncedEvent,
  DeferredEvent,
  DeletedEvent,
  DeliveredEvent,
  ExpiredEvent,
  HeldEvent,
  QueuedEvent,
  QueueEventMap,
  QueueLogger,
} from './events.ts';
export type { MessageInput } from './message-body.ts';
export {
  type MtaQueue,
  type MtaQueueOptions,
  type MtaQueueSettings,
  openMtaQueue,
  TRACE_ALLOWANCE,
} from './mta-queue.ts';
export { openQueueStore, type QueueStoreLocation } from './open-queue-store.ts';
export { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from './postgres-store.ts';
export {
  type AttemptRecord,
  type BouncedRecipient,
  type BounceNotice,
  type Clock,
  type Enqueued,
  type EnqueueMeta,
  type EnqueueRequest,
  type LeasedBatch,
  type LeasedRecipient,
  type LeaseOptions,
  type ListFilter,
  openQueue,
  type Queue,
  type QueuedMessage,
  type QueuedMessageDetail,
  type QueueOptions,
  type RecipientStatus,
  type RenewedLease,
} from './queue.ts';
export { createQueueHttpHandler, type QueueHttpHandler, type QueueHttpOptions } from './queue-http.ts';
export type { RateLimit } from './rate-limit.ts';
export {
  createRetrySchedule,
  DEFAULT_LIFETIME_MS,
  DEFAULT_RETRY_SCHEDULE,
  type RetryPolicy,
  type RetrySchedule,
} from './retry.ts';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
export type { BounceReason, QueueStore, RecipientState } from './store.ts';
export type { ThreadRestartOptions } from './thread-restarts.ts';
export { createWorker, type Worker, type WorkerOptions } from './worker.ts';
