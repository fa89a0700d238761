// The store contract: what the queue needs from durable storage, and nothing about scheduling.
// Two stores implement it (SQLite for one machine, PostgreSQL for many); the queue's policy —
// retries, expiry, bounces, group commit — lives above it, so both behave the same.
// A message is committed as one unit: its `mq_messages` row is the commit marker, written in the
// same transaction as its recipients and any body chunks not already staged (or, for large bodies
// in SQLite, the extents naming their bytes in a body segment, flushed before that transaction).

export type RecipientState = 'pending' | 'delivering' | 'delivered' | 'deferred' | 'bounced' | 'held';

export const FINAL_STATES: readonly RecipientState[] = ['delivered', 'bounced'];

/** Why a recipient bounced: the remote said 5xx, the queue lifetime ran out, or an operator. */
export type BounceReason = 'rejected' | 'expired' | 'operator';

/** One body chunk as it arrived: pieces back to back, not copied together. */
export type ChunkParts = readonly Uint8Array[];

export interface NewMessage {
  readonly id: string;
  /** The formatted envelope sender; `null` is `<>`. */
  readonly mailFrom: string | null;
  /** JSON of the Envelope. */
  readonly envelope: string;
  /** JSON of the app's metadata. */
  readonly meta: string;
  readonly size: number;
  readonly sha256: string;
  /** How many body chunks the message has in total (staged before plus those below). */
  readonly chunks: number;
  readonly createdAt: number;
  /** Body chunks written with the commit itself (small messages, the tail of large ones). */
  readonly inlineChunks: readonly { readonly seq: number; readonly parts: ChunkParts }[];
  readonly recipients: readonly {
    readonly idx: number;
    readonly rcpt: string;
    readonly nextHop: string;
    /** `held` commits the recipient already held (no worker leases it until released). Default `pending`. */
    readonly state?: 'pending' | 'held';
    /** Recorded as the recipient's last reply: why it is held. */
    readonly reply?: string | null;
  }[];
}

export interface StoredMessage {
  readonly id: string;
  readonly mailFrom: string | null;
  readonly envelope: string;
  readonly meta: string;
  readonly size: number;
  readonly sha256: string;
  readonly chunks: number;
  readonly createdAt: number;
  readonly bodyDeleted: boolean;
}

export interface StoredRecipient {
  readonly messageId: string;
  readonly idx: number;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly state: RecipientState;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastReply: string | null;
  readonly leaseOwner: string | null;
  readonly noticeDueAt: number | null;
  readonly noticeReason: BounceReason | null;
  readonly updatedAt: number;
}

export interface StoredAttempt {
  readonly idx: number;
  readonly attempt: number;
  readonly at: number;
  readonly status: 'delivered' | 'deferred' | 'bounced';
  readonly reply: string | null;
  readonly owner: string | null;
}

export interface LeaseQuery {
  readonly owner: string;
  readonly now: number;
  readonly leaseUntil: number;
  /** At most this many (message, next hop) groups. */
  readonly maxGroups: number;
  /** At most this many recipients in one group. */
  readonly maxRecipients: number;
  /** Next hops to leave alone (at their concurrency or rate limit). */
  readonly exclude: readonly string[];
  /** How many more groups this next hop may take now. */
  readonly slotsFor: (nextHop: string) => number;
}

export interface LeasedGroup {
  readonly message: StoredMessage;
  /** The whole body when it is small (one chunk, at most 64 KiB): saves a read per delivery. */
  readonly body?: Uint8Array;
  readonly nextHop: string;
  readonly recipients: readonly { readonly idx: number; readonly rcpt: string; readonly attempts: number }[];
}

/** Recipients of one message that `owner` leased and wants to keep longer. */
export interface HeldLease {
  readonly owner: string;
  readonly messageId: string;
  readonly idxs: readonly number[];
}

/** What an attempt did to one recipient; computed by the queue, applied by the store. */
export interface RecipientUpdate {
  readonly idx: number;
  readonly state: 'delivered' | 'deferred' | 'bounced';
  readonly nextAttemptAt: number;
  readonly reply: string;
  readonly code: number | null;
  /** When set, a bounce notice (DSN) is owed to the sender, due at this time. */
  readonly noticeDueAt: number | null;
  readonly noticeReason: BounceReason | null;
}

export interface CompletedGroup {
  readonly owner: string;
  readonly messageId: string;
  readonly updates: readonly RecipientUpdate[];
  /**
   * The group holds every recipient of its message, each update is final and owes no notice:
   * once all apply, the body can go without asking the database whether anything is left.
   */
  readonly settlesMessage?: boolean;
}

export interface NoticeRow {
  readonly messageId: string;
  readonly idx: number;
  readonly rcpt: string;
  readonly nextHop: string;
  readonly reply: string | null;
  readonly reason: BounceReason;
}

export interface ListQuery {
  readonly states?: readonly RecipientState[];
  readonly nextHop?: string;
  /** Formatted sender; `null` selects the null sender. */
  readonly mailFrom?: string | null;
  readonly rcpt?: string;
  readonly createdBefore?: number;
  readonly createdAfter?: number;
  readonly limit: number;
}

/** An operator change: recipients of one message (optionally one rcpt) in `from` states. */
export interface OperatorChange {
  readonly messageId: string;
  readonly rcpt?: string;
  readonly from: readonly RecipientState[];
  readonly state: RecipientState;
  readonly nextAttemptAt: number;
  readonly now: number;
  readonly reply?: string;
  readonly code?: number;
  readonly noticeDueAt?: number | null;
  readonly noticeReason?: BounceReason | null;
}

export interface QueueStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Writes one chunk of a large body ahead of its commit; without a commit it is an orphan. */
  stageChunk(messageId: string, seq: number, parts: ChunkParts, now: number): Promise<void>;
  discardStaged(messageId: string): Promise<void>;
  /** Commits all messages in one transaction (one fsync): all of them or none. */
  commit(batch: readonly NewMessage[]): Promise<void>;
  lease(query: LeaseQuery): Promise<LeasedGroup[]>;
  /**
   * Extends leases to `leaseUntil`, for many groups in one transaction, only for recipients their
   * owner still leases and whose outcome is not recorded (a lease that ran out but that nobody
   * took is extended too); returns the idxs extended per group: the others were lost.
   */
  renew(groups: readonly HeldLease[], leaseUntil: number, now: number): Promise<number[][]>;
  /** Gives leased recipients back without an attempt. */
  release(owner: string, messageId: string, idxs: readonly number[], now: number): Promise<void>;
  /**
   * Records outcomes, for many leased groups in one transaction, only for recipients their owner
   * still leases; returns the idxs applied per group. Removes a message's body when every
   * recipient is final and no notice is owed.
   */
  complete(groups: readonly CompletedGroup[], now: number): Promise<number[][]>;
  /** Claims due bounce notices (pushing their due time to `until`), optionally of one message. */
  claimNotices(now: number, until: number, limit: number, messageId?: string): Promise<NoticeRow[]>;
  /** Marks notices sent and removes the body when nothing is left to do. */
  clearNotices(messageId: string, idxs: readonly number[]): Promise<void>;
  readChunk(messageId: string, seq: number): Promise<Uint8Array | undefined>;
  getMessage(messageId: string): Promise<StoredMessage | undefined>;
  listMessages(query: ListQuery): Promise<StoredMessage[]>;
  recipients(messageIds: readonly string[]): Promise<StoredRecipient[]>;
  attempts(messageId: string): Promise<StoredAttempt[]>;
  /** Applies an operator change; returns the recipients changed (their state before). */
  change(change: OperatorChange): Promise<StoredRecipient[]>;
  deleteMessage(messageId: string): Promise<boolean>;
  counts(): Promise<Record<RecipientState, number>>;
  /**
   * Removes staged chunks older than `stagedBefore` without a commit, bodies nobody needs, and
   * body-segment bytes no row names (SQLite).
   */
  cleanOrphans(stagedBefore: number): Promise<{ chunks: number; bodies: number; segmentBytes: number }>;
  close(): Promise<void>;
}
