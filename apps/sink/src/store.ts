// The sink's message store: SQLite (node:sqlite) in one file, and the raw bytes, kept exactly,
// in segment files beside it (raw-segments.ts; a message over 1 MiB is written in 1 MiB pieces
// as it arrives, so a 50 MB message never sits in memory whole). The parsed summary is computed
// once per message in the background (parse-message.ts) and cached in indexed columns, with an
// FTS5 trigram index for free-text search, so that listing and searching 10,000 messages stays
// fast. Holds at most `maxMessages` (oldest pruned) and drops messages older than `maxAgeMs`.
//
// Cost per message is what a sink is judged by, so acceptance does the least it can: messages
// that finish in the same event-loop turn are committed in one transaction (group commit),
// an accepted message touches one B-tree only (its row, appended: the key comes from a counter,
// no secondary index; the id carries the row's key, see message-id.ts, and the unread count is
// kept in memory), a batch's raw bytes are one write to a segment, and the database runs in WAL
// mode with synchronous=NORMAL: a commit reaches the OS before the 250 goes out, but is not fsynced
// per message (a power cut may lose the last messages; a crash of the sink itself loses
// nothing). A test sink is not a relay: nobody's mail is lost for good.
// WAL checkpoints run on a worker thread (wal-checkpointer.ts), not inside commits.

import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { Readable } from 'node:stream';
import { messageSeq, newMessageId } from './message-id.ts';
import { type MailAddress, type ParsedMessage, parseMessage } from './parse-message.ts';
import { decodeExtents, type Extent, encodeExtents, RawSegments } from './raw-segments.ts';
import { type Checkpointer, startCheckpointer } from './wal-checkpointer.ts';

/** A message still streaming in is written to its segment each time this much has arrived. */
const CHUNK = 1 << 20;
const SCHEMA_VERSION = 4;
/** Messages parsed before their results are written in one transaction. */
const PARSE_BATCH = 64;
/** Characters of search text that go into the trigram index; the rest is LIKE-matched. */
export const SEARCH_INDEXED = 16 * 1024;

export interface StoreOptions {
  /** SQLite file (raw bytes go in the directory `<path>-raw`); `:memory:` for a throwaway store. */
  readonly path: string;
  /** Messages kept; the oldest are pruned beyond it. 0 = unlimited. */
  readonly maxMessages?: number;
  /** Messages older than this are pruned. 0 or absent = keep. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
  /** Runs once per message after parsing (authentication verdicts); its result is stored as JSON. */
  readonly analyze?: (message: StoredMessage, raw: () => Readable) => Promise<unknown>;
}

export interface NewMessageMeta {
  readonly mailFrom: string | null;
  readonly rcptTo: readonly string[];
  readonly helo?: string;
  readonly remoteAddress?: string;
  readonly username?: string;
  readonly tags?: readonly string[];
}

/** The summary of one message: its envelope and the header fields the list views show. */
export interface StoredMessage
  extends Pick<
    ParsedMessage,
    'subject' | 'messageId' | 'from' | 'to' | 'cc' | 'bcc' | 'replyTo' | 'snippet'
  > {
  readonly id: string;
  readonly created: number;
  readonly size: number;
  readonly read: boolean;
  readonly mailFrom: string | null;
  readonly rcptTo: readonly string[];
  readonly helo: string;
  readonly remoteAddress: string;
  readonly username: string;
  readonly tags: readonly string[];
  readonly attachmentCount: number;
}

export interface SinkEvent {
  readonly Type: 'new' | 'update' | 'delete' | 'truncate' | 'prune' | 'stats';
  readonly Data: unknown;
}

/** A SQL condition over the `messages` table with its bound values. */
export interface Filter {
  readonly sql: string;
  readonly params: readonly SQLInputValue[];
}

export interface MessageWriter {
  write(chunk: Buffer): void;
  /**
   * Stores the message; resolves with its id once it is committed. Messages committed in the
   * same event-loop turn share one transaction.
   */
  commit(meta: NewMessageMeta): Promise<string>;
  abort(): void;
  readonly size: number;
}

// `messages` holds what lists and filters read, kept narrow so that scans stay in few pages;
// `details` holds the bulky parse results and verdicts; `search` is a trigram index of the
// first SEARCH_INDEXED characters of details.search_text (indexing costs ~40 µs per KB, so a
// 100 KB body would cost more than accepting it). Messages with longer text are flagged `long`
// and their whole text is also matched with LIKE (see search.ts).
// An insert touches no secondary index: each costs a page write per commit, more than the rest
// of the row. Messages are found by seq (the id carries it); `created` grows with seq, so
// pruning by age walks from the oldest row, and before:/after: scan the narrow table, as do
// `is:unread` and every other filter that the trigram index does not serve.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  raw TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  size INTEGER NOT NULL,
  read INTEGER NOT NULL DEFAULT 0,
  mail_from TEXT,
  rcpt_to TEXT NOT NULL DEFAULT '[]',
  helo TEXT NOT NULL DEFAULT '',
  remote TEXT NOT NULL DEFAULT '',
  username TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '[]',
  parsed INTEGER NOT NULL DEFAULT 0,
  subject TEXT NOT NULL DEFAULT '',
  message_id TEXT NOT NULL DEFAULT '',
  from_json TEXT NOT NULL DEFAULT 'null',
  to_json TEXT NOT NULL DEFAULT '[]',
  cc_json TEXT,
  bcc_json TEXT,
  reply_to_json TEXT NOT NULL DEFAULT '[]',
  snippet TEXT NOT NULL DEFAULT '',
  attachments INTEGER NOT NULL DEFAULT 0,
  inlines INTEGER NOT NULL DEFAULT 0,
  date INTEGER
);
CREATE TABLE IF NOT EXISTS details (
  seq INTEGER PRIMARY KEY,
  long INTEGER NOT NULL DEFAULT 0,
  search_text TEXT NOT NULL DEFAULT '',
  detail TEXT,
  verdicts TEXT
);
CREATE INDEX IF NOT EXISTS details_long ON details (long) WHERE long = 1;
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5(
  search_text, content = '', contentless_delete = 1, tokenize = 'trigram'
);
`;

const SUMMARY_COLUMNS =
  'id, created, size, read, mail_from, rcpt_to, helo, remote, username, tags, subject, message_id, from_json, to_json, cc_json, bcc_json, reply_to_json, snippet, attachments';

type Row = Record<string, SQLInputValue>;

function toStored(row: Row): StoredMessage {
  return {
    id: String(row.id),
    created: Number(row.created),
    size: Number(row.size),
    read: Number(row.read) === 1,
    mailFrom: row.mail_from === null ? null : String(row.mail_from),
    rcptTo: JSON.parse(String(row.rcpt_to)) as string[],
    helo: String(row.helo),
    remoteAddress: String(row.remote),
    username: String(row.username),
    tags: JSON.parse(String(row.tags)) as string[],
    subject: String(row.subject),
    messageId: String(row.message_id),
    from: JSON.parse(String(row.from_json)) as MailAddress | null,
    to: JSON.parse(String(row.to_json)) as MailAddress[],
    cc: row.cc_json === null ? null : (JSON.parse(String(row.cc_json)) as MailAddress[]),
    bcc: row.bcc_json === null ? null : (JSON.parse(String(row.bcc_json)) as MailAddress[]),
    replyTo: JSON.parse(String(row.reply_to_json)) as MailAddress[],
    snippet: String(row.snippet),
    attachmentCount: Number(row.attachments),
  };
}

/** A message whose DATA is complete, waiting for the next group commit. */
interface PendingCommit {
  /** Given at commit, when the message gets its seq. */
  id: string;
  /** Where the bytes written so far are; the rest are still in memory. */
  extents: Extent[];
  readonly rest: Buffer[];
  readonly size: number;
  readonly meta: NewMessageMeta;
  readonly resolve: (id: string) => void;
  readonly reject: (error: unknown) => void;
}

interface ParseResult {
  readonly seq: number;
  readonly id: string;
  readonly parsed: ParsedMessage | null;
  readonly failure: string;
}

export class SinkStore {
  readonly path: string;
  readonly events = new EventEmitter();
  readonly stats = { accepted: 0, acceptedSize: 0, rejected: 0, deleted: 0 };
  #db: DatabaseSync;
  #options: StoreOptions;
  #now: () => number;
  #statements = new Map<string, StatementSync>();
  #indexing: Promise<void> | null = null;
  #waiters = 0;
  /** performance.now() of the last commit: real time, whatever clock `now` injects. */
  #lastWriteAt = 0;
  #closed = false;
  /** Messages stored and unread ones, kept here so that neither needs a count(*) or an index. */
  #count = 0;
  #unread = 0;
  #segments: RawSegments;
  /** A directory made for a `:memory:` store's segments, removed when it closes. */
  #tempDir: string | null = null;
  #nextSeq = 1;
  /** Every message with seq up to this one has been parsed (or deleted). */
  #parsedThrough = 0;
  #pending: PendingCommit[] = [];
  #flushScheduled = false;
  #checkpointer: Checkpointer | null = null;

  constructor(options: StoreOptions) {
    this.#options = options;
    this.path = options.path;
    this.#now = options.now ?? Date.now;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;');
    const version = Number(this.#db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
    const hasTables = this.#db.prepare("SELECT 1 AS x FROM sqlite_master WHERE name = 'messages'").get();
    if (hasTables && version !== SCHEMA_VERSION) {
      this.#db.close();
      throw new Error(
        `${options.path} was written by another version of the sink (schema ${version}, expected ${SCHEMA_VERSION}): delete it or choose another --database`,
      );
    }
    this.#db.exec(SCHEMA);
    this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    // Segments that no stored message refers to (a crash mid-transfer) are deleted here.
    let dir = `${options.path}-raw`;
    if (options.path === ':memory:') dir = this.#tempDir = mkdtempSync(join(tmpdir(), 'mailyard-sink-raw-'));
    const referenced = this.#db.prepare("SELECT raw FROM messages WHERE raw <> ''").all();
    this.#segments = new RawSegments(
      dir,
      referenced.flatMap((row) => decodeExtents(String(row.raw))),
    );
    const counts = this.#db
      .prepare('SELECT count(*) AS n, coalesce(sum(read = 0), 0) AS u FROM messages')
      .get();
    this.#count = Number(counts?.n ?? 0);
    this.#unread = Number(counts?.u ?? 0);
    this.#nextSeq = Number(this.#db.prepare('SELECT max(seq) AS s FROM messages').get()?.s ?? 0) + 1;
    const unparsed = this.#db.prepare('SELECT min(seq) AS s FROM messages WHERE parsed = 0').get()?.s;
    this.#parsedThrough =
      unparsed === null || unparsed === undefined ? this.#nextSeq - 1 : Number(unparsed) - 1;
    this.events.setMaxListeners(0);
    if (options.path !== ':memory:') {
      // Checkpoints (and their fsyncs) run on a worker thread, never inside a commit.
      this.#db.exec('PRAGMA wal_autocheckpoint = 0');
      this.#checkpointer = startCheckpointer(options.path, () => {
        this.#checkpointer = null;
        if (!this.#closed) this.#db.exec('PRAGMA wal_autocheckpoint = 1000');
      });
    }
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #emit(event: SinkEvent): void {
    this.events.emit('event', event);
  }

  #inTransaction = false;
  /** Extents of messages deleted in the open transaction: released once it commits. */
  #freed: Extent[] = [];

  /** Runs fn in one transaction; nested calls join the transaction already open. */
  #transaction<T>(fn: () => T): T {
    if (this.#inTransaction) return fn();
    this.#stmt('BEGIN IMMEDIATE').run();
    this.#inTransaction = true;
    try {
      const result = fn();
      this.#stmt('COMMIT').run();
      this.#segments.release(this.#freed);
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      this.#inTransaction = false;
      this.#freed = [];
    }
  }

  /** Starts receiving one message. Small messages stay in memory until commit; large ones are written as they come. */
  createWriter(): MessageWriter {
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    const extents: Extent[] = [];
    let size = 0;
    let finished = false;
    /** A write that failed (disk full): the rest is dropped and the commit refused with it. */
    let failure: unknown = null;
    const spill = () => {
      try {
        extents.push(this.#segments.append([buffered])[0]!);
      } catch (error) {
        // Never thrown into the SMTP stream's 'data' event: the sink would go down with it.
        failure = error;
      }
      buffered = [];
      bufferedBytes = 0;
    };
    return {
      get size() {
        return size;
      },
      write: (chunk: Buffer) => {
        if (finished || failure !== null) return;
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        size += chunk.length;
        if (bufferedBytes >= CHUNK) spill();
      },
      commit: (meta: NewMessageMeta) => {
        if (finished) return Promise.reject(new Error('message already finished'));
        finished = true;
        if (failure !== null) {
          this.#segments.release(extents);
          return Promise.reject(failure);
        }
        return new Promise<string>((resolve, reject) => {
          this.#pending.push({
            id: '',
            extents,
            rest: buffered,
            size,
            meta,
            resolve,
            reject,
          });
          buffered = [];
          if (!this.#flushScheduled) {
            this.#flushScheduled = true;
            setImmediate(() => this.#flushPending());
          }
        });
      },
      abort: () => {
        if (finished) return;
        finished = true;
        buffered = [];
        this.#segments.release(extents);
      },
    };
  }

  /** Stores a complete message given as bytes (the send API, imports, tests), at once. */
  add(raw: Buffer | string, meta: NewMessageMeta): string {
    const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const item: PendingCommit = {
      id: '',
      extents: [],
      rest: [bytes],
      size: bytes.length,
      meta,
      resolve: () => {},
      reject: () => {},
    };
    // Messages answered for come first: seq order is arrival order, which the parser relies on.
    this.#flushPending();
    this.#commitAll([item]);
    return item.id;
  }

  #flushPending(): void {
    this.#flushScheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    if (this.#closed) {
      for (const item of batch) item.reject(new Error('the store is closed'));
      return;
    }
    try {
      this.#commitAll(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) item.resolve(item.id);
  }

  /** One transaction for all of them; then pruning and parsing once for the batch. */
  #commitAll(batch: readonly PendingCommit[]): void {
    const created = this.#now();
    const insert = this.#stmt(
      'INSERT INTO messages (seq, id, raw, created, size, mail_from, rcpt_to, helo, remote, username, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // The batch's bytes first, in one write: a row is only ever committed after its bytes.
    let tails: (Extent | null)[];
    try {
      tails = this.#segments.append(batch.map((item) => item.rest));
    } catch (error) {
      for (const item of batch) this.#segments.release(item.extents);
      throw error;
    }
    for (let i = 0; i < batch.length; i++) {
      const tail = tails[i];
      if (tail) batch[i]!.extents.push(tail);
    }
    const firstSeq = this.#nextSeq;
    const countBefore = this.#count;
    const unreadBefore = this.#unread;
    const deletedBefore = this.stats.deleted;
    try {
      this.#transaction(() => {
        for (const item of batch) {
          const seq = this.#nextSeq++;
          item.id = newMessageId(seq, created);
          insert.run(
            seq,
            item.id,
            encodeExtents(item.extents),
            created,
            item.size,
            item.meta.mailFrom,
            JSON.stringify(item.meta.rcptTo),
            item.meta.helo ?? '',
            item.meta.remoteAddress ?? '',
            item.meta.username ?? '',
            item.meta.tags && item.meta.tags.length > 0 ? JSON.stringify(item.meta.tags) : '[]',
          );
        }
        this.#count += batch.length;
        this.#unread += batch.length;
        // In the same transaction: with `--max` reached, every commit also prunes, and a
        // second transaction per batch would double the write cost.
        this.#prune();
      });
    } catch (error) {
      this.#nextSeq = firstSeq;
      this.#count = countBefore;
      this.#unread = unreadBefore;
      this.stats.deleted = deletedBefore;
      for (const item of batch) this.#segments.release(item.extents);
      throw error;
    }
    for (const item of batch) {
      this.stats.accepted++;
      this.stats.acceptedSize += item.size;
    }
    this.#lastWriteAt = performance.now();
    this.#kickIndexer();
  }

  #prune(): void {
    const max = this.#options.maxMessages ?? 0;
    const maxAge = this.#options.maxAgeMs ?? 0;
    if (max > 0 && this.#count > max) {
      const ids = this.#stmt('SELECT id FROM messages ORDER BY seq ASC LIMIT ?')
        .all(this.#count - max)
        .map((row) => String(row.id));
      this.#deleteIds(ids);
      this.#emit({ Type: 'prune', Data: null });
    }
    if (maxAge > 0) {
      // Oldest first, stopping at the first young one: with no index on created, this reads one
      // row when nothing has expired.
      const cutoff = this.#now() - maxAge;
      const oldest = this.#stmt('SELECT id, created FROM messages ORDER BY seq ASC LIMIT ?');
      let pruned = false;
      for (;;) {
        const ids: string[] = [];
        for (const row of oldest.all(64)) {
          if (Number(row.created) >= cutoff) break;
          ids.push(String(row.id));
        }
        if (ids.length === 0) break;
        this.#deleteIds(ids);
        pruned = true;
        if (ids.length < 64) break;
      }
      if (pruned) this.#emit({ Type: 'prune', Data: null });
    }
  }

  /** Applies `--max-age` now (also runs on every new message). */
  pruneNow(): void {
    this.#prune();
  }

  #deleteIds(ids: readonly string[]): number {
    let deleted = 0;
    let unread = 0;
    this.#transaction(() => {
      for (const id of ids) {
        const row = this.#stmt('DELETE FROM messages WHERE seq = ? AND id = ? RETURNING seq, raw, read').get(
          messageSeq(id),
          id,
        );
        if (!row) continue;
        if (Number(row.read) === 0) unread++;
        this.#freed.push(...decodeExtents(String(row.raw)));
        this.#stmt('DELETE FROM details WHERE seq = ?').run(row.seq!);
        this.#stmt('DELETE FROM search WHERE rowid = ?').run(row.seq!);
        deleted++;
      }
    });
    this.#count -= deleted;
    this.#unread -= unread;
    this.stats.deleted += deleted;
    return deleted;
  }

  // --- background parsing -------------------------------------------------------------------

  #kickIndexer(): void {
    if (this.#indexing || this.#closed) return;
    this.#indexing = (async () => {
      // Let the SMTP reply go out first: parsing is deferred work, not part of acceptance.
      await new Promise((resolve) => setImmediate(resolve));
      const backlogSince = performance.now();
      for (;;) {
        if (this.#closed) break;
        const rows = this.#stmt(
          'SELECT seq, id, created, raw FROM messages WHERE seq > ? AND parsed = 0 ORDER BY seq ASC LIMIT ?',
        ).all(this.#parsedThrough, PARSE_BATCH);
        const first = rows[0];
        if (!first) break;
        // Accepting comes first: parsing costs more than accepting (~0.3 ms for 1 KB, ~6 ms for
        // 100 KB). While mail streams in (a commit in the last 100 ms) and no reader waits, a
        // backlog younger than 2 s waits, and an older one gets a quarter of the time (20 ms of
        // parsing, then 60 ms of rest). Quiet SMTP, or a reader in idle(), parses at full speed.
        const busy = () => this.#waiters === 0 && performance.now() - this.#lastWriteAt < 100;
        if (busy() && performance.now() - backlogSince < 2000) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        // Parse a batch, then write its results in one transaction; stop early so that readers
        // see progress and the event loop is never held for long.
        const results: ParseResult[] = [];
        const started = performance.now();
        const until = started + (busy() ? 20 : 50);
        for (const row of rows) {
          results.push(await this.#parseOne(Number(row.seq), String(row.id), String(row.raw)));
          if (this.#closed || performance.now() > until) break;
        }
        if (this.#closed) break;
        this.#saveParsed(results);
        this.#parsedThrough = results[results.length - 1]!.seq;
        if (busy()) await new Promise((resolve) => setTimeout(resolve, 3 * (performance.now() - started)));
      }
    })().finally(() => {
      this.#indexing = null;
    });
  }

  /** Resolves once every stored message has been parsed (the API waits on it before queries). */
  async idle(): Promise<void> {
    this.#waiters++;
    try {
      // A commit scheduled for this turn comes first: it is part of "everything stored".
      if (this.#flushScheduled) await new Promise((resolve) => setImmediate(resolve));
      while (this.#indexing) await this.#indexing;
    } finally {
      this.#waiters--;
    }
  }

  async #parseOne(seq: number, id: string, raw: string): Promise<ParseResult> {
    try {
      return { seq, id, parsed: await parseMessage(this.#segments.open(decodeExtents(raw))), failure: '' };
    } catch (error) {
      return { seq, id, parsed: null, failure: error instanceof Error ? error.message : String(error) };
    }
  }

  #saveParsed(results: readonly ParseResult[]): void {
    const saved: ParseResult[] = [];
    this.#transaction(() => {
      for (const result of results) {
        const { parsed, seq } = result;
        // Deleted while it was being parsed: nothing to save.
        let changes: number | bigint;
        if (parsed) {
          changes = this.#stmt(
            `UPDATE messages SET parsed = 1, subject = ?, message_id = ?, from_json = ?, to_json = ?, cc_json = ?,
             bcc_json = ?, reply_to_json = ?, snippet = ?, attachments = ?, inlines = ?, date = ?
             WHERE seq = ? AND parsed = 0`,
          ).run(
            parsed.subject,
            parsed.messageId,
            JSON.stringify(parsed.from),
            JSON.stringify(parsed.to),
            parsed.cc ? JSON.stringify(parsed.cc) : null,
            parsed.bcc ? JSON.stringify(parsed.bcc) : null,
            JSON.stringify(parsed.replyTo),
            parsed.snippet,
            parsed.attachments.length,
            parsed.inline.length,
            parsed.date,
            seq,
          ).changes;
        } else {
          changes = this.#stmt('UPDATE messages SET parsed = 2 WHERE seq = ? AND parsed = 0').run(
            seq,
          ).changes;
        }
        if (Number(changes) === 0) continue;
        let searchText = '';
        let detail: unknown = { parseError: result.failure };
        if (parsed) {
          const { searchText: text, ...rest } = parsed;
          searchText = text;
          detail = rest;
        }
        const long = searchText.length > SEARCH_INDEXED;
        this.#stmt('INSERT OR REPLACE INTO details (seq, long, search_text, detail) VALUES (?, ?, ?, ?)').run(
          seq,
          long ? 1 : 0,
          searchText,
          JSON.stringify(detail),
        );
        if (searchText) {
          this.#stmt('INSERT INTO search (rowid, search_text) VALUES (?, ?)').run(
            seq,
            long ? searchText.slice(0, SEARCH_INDEXED) : searchText,
          );
        }
        saved.push(result);
      }
    });
    const listening = this.events.listenerCount('event') > 0;
    for (const result of saved) {
      if (!listening && !this.#options.analyze) continue;
      const stored = this.get(result.id);
      if (!stored) continue;
      if (listening) this.#emit({ Type: 'new', Data: stored });
      if (this.#options.analyze) this.#scheduleAnalyze(stored);
    }
  }

  // Verdicts need DNS, which can be slow: they run beside parsing, a few at a time, and arrive
  // as an `update` event.
  #analyzeQueue: StoredMessage[] = [];
  #analyzing = 0;
  #analyzeDone = new Set<() => void>();

  #scheduleAnalyze(message: StoredMessage): void {
    this.#analyzeQueue.push(message);
    this.#pumpAnalyze();
  }

  #pumpAnalyze(): void {
    const analyze = this.#options.analyze;
    while (analyze && this.#analyzing < 8 && this.#analyzeQueue.length > 0 && !this.#closed) {
      const message = this.#analyzeQueue.shift()!;
      this.#analyzing++;
      analyze(message, () => this.openRaw(message.id))
        .catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }))
        .then((verdicts) => {
          if (this.#closed) return;
          const result = this.#stmt(
            'UPDATE details SET verdicts = ? WHERE seq = (SELECT seq FROM messages WHERE seq = ? AND id = ?)',
          ).run(JSON.stringify(verdicts ?? null), messageSeq(message.id), message.id);
          if (Number(result.changes) > 0)
            this.#emit({ Type: 'update', Data: { ID: message.id, Verdicts: verdicts } });
        })
        .finally(() => {
          this.#analyzing--;
          if (this.#analyzing === 0 && this.#analyzeQueue.length === 0) {
            for (const done of this.#analyzeDone) done();
            this.#analyzeDone.clear();
          }
          this.#pumpAnalyze();
        });
    }
  }

  /** Resolves once every queued verdict is computed. */
  async verdictsIdle(): Promise<void> {
    await this.idle();
    if (this.#analyzing === 0 && this.#analyzeQueue.length === 0) return;
    await new Promise<void>((resolve) => this.#analyzeDone.add(resolve));
  }

  // --- reads --------------------------------------------------------------------------------

  get(id: string): StoredMessage | null {
    const row = this.#stmt(`SELECT ${SUMMARY_COLUMNS} FROM messages WHERE seq = ? AND id = ?`).get(
      messageSeq(id),
      id,
    );
    return row ? toStored(row) : null;
  }

  /** The parsed detail (bodies, attachments, links) and the verdicts of one message. */
  detail(id: string): {
    parsed: (Omit<ParsedMessage, 'searchText'> & { parseError?: string }) | null;
    verdicts: unknown;
  } {
    const row = this.#stmt(
      'SELECT d.detail, d.verdicts FROM messages AS m JOIN details AS d ON d.seq = m.seq WHERE m.seq = ? AND m.id = ?',
    ).get(messageSeq(id), id);
    if (!row) return { parsed: null, verdicts: null };
    return {
      parsed: row.detail ? JSON.parse(String(row.detail)) : null,
      verdicts: row.verdicts ? JSON.parse(String(row.verdicts)) : null,
    };
  }

  latest(filter?: Filter): StoredMessage | null {
    const where = filter ? `WHERE ${filter.sql}` : '';
    const row = this.#stmt(`SELECT ${SUMMARY_COLUMNS} FROM messages ${where} ORDER BY seq DESC LIMIT 1`).get(
      ...(filter?.params ?? []),
    );
    return row ? toStored(row) : null;
  }

  /** Newest first. `limit` 0 means all. */
  list(options: { start?: number; limit?: number; filter?: Filter; beforeMs?: number }): StoredMessage[] {
    const clauses: string[] = [];
    const params: SQLInputValue[] = [];
    if (options.filter) {
      clauses.push(`(${options.filter.sql})`);
      params.push(...options.filter.params);
    }
    if (options.beforeMs !== undefined) {
      clauses.push('created < ?');
      params.push(options.beforeMs);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    const limit = options.limit && options.limit > 0 ? options.limit : -1;
    return this.#stmt(`SELECT ${SUMMARY_COLUMNS} FROM messages ${where} ORDER BY seq DESC LIMIT ? OFFSET ?`)
      .all(...params, limit, Math.max(0, options.start ?? 0))
      .map(toStored);
  }

  count(filter?: Filter): { total: number; unread: number } {
    if (!filter) {
      return { total: this.#count, unread: this.#unread };
    }
    const row = this.#stmt(
      `SELECT count(*) AS total, coalesce(sum(read = 0), 0) AS unread FROM messages WHERE ${filter.sql}`,
    ).get(...filter.params);
    return { total: Number(row?.total ?? 0), unread: Number(row?.unread ?? 0) };
  }

  ids(filter?: Filter): string[] {
    const where = filter ? `WHERE ${filter.sql}` : '';
    return this.#stmt(`SELECT id FROM messages ${where} ORDER BY seq DESC`)
      .all(...(filter?.params ?? []))
      .map((row) => String(row.id));
  }

  /** The exact bytes as received, streamed chunk by chunk. */
  openRaw(id: string): Readable {
    const row = this.#stmt('SELECT raw FROM messages WHERE seq = ? AND id = ?').get(messageSeq(id), id);
    // A missing message reads as empty, like one deleted while it is being read.
    return this.#segments.open(row ? decodeExtents(String(row.raw)) : []);
  }

  async readRaw(id: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.openRaw(id)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  /** The raw header block (up to the first empty line), read from the first chunks only. */
  async readHeaderBlock(id: string): Promise<string> {
    const parts: Buffer[] = [];
    let length = 0;
    for await (const chunk of this.openRaw(id)) {
      parts.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      const text = Buffer.concat(parts, length).toString('latin1');
      const end = text.search(/\r?\n\r?\n/);
      if (end >= 0) return Buffer.concat(parts, length).subarray(0, end).toString('utf8');
      if (length > 4 * CHUNK) break;
    }
    return Buffer.concat(parts, length).toString('utf8');
  }

  // --- writes -------------------------------------------------------------------------------

  setRead(ids: readonly string[], read: boolean): void {
    const changed: string[] = [];
    this.#transaction(() => {
      for (const id of ids) {
        const result = this.#stmt('UPDATE messages SET read = ? WHERE seq = ? AND id = ? AND read <> ?').run(
          read ? 1 : 0,
          messageSeq(id),
          id,
          read ? 1 : 0,
        );
        if (Number(result.changes) > 0) changed.push(id);
      }
    });
    this.#unread += read ? -changed.length : changed.length;
    for (const id of changed) this.#emit({ Type: 'update', Data: { ID: id, Read: read } });
  }

  delete(ids: readonly string[]): number {
    const deleted = this.#deleteIds(ids);
    for (const id of ids) this.#emit({ Type: 'delete', Data: { ID: id } });
    return deleted;
  }

  deleteAll(): void {
    const total = this.#count;
    this.#transaction(() => {
      for (const row of this.#stmt("SELECT raw FROM messages WHERE raw <> ''").all()) {
        this.#freed.push(...decodeExtents(String(row.raw)));
      }
      this.#db.exec(
        "DELETE FROM messages; DELETE FROM details; INSERT INTO search (search) VALUES ('delete-all');",
      );
    });
    this.#count = 0;
    this.#unread = 0;
    this.stats.deleted += total;
    this.#emit({ Type: 'truncate', Data: null });
  }

  setTags(id: string, tags: readonly string[]): void {
    const unique = [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
    this.#stmt('UPDATE messages SET tags = ? WHERE seq = ? AND id = ?').run(
      JSON.stringify(unique),
      messageSeq(id),
      id,
    );
    this.#emit({ Type: 'update', Data: { ID: id, Tags: unique } });
  }

  allTags(): Map<string, number> {
    const tags = new Map<string, number>();
    for (const row of this.#stmt(
      "SELECT j.value AS tag, count(*) AS n FROM messages, json_each(messages.tags) AS j WHERE messages.tags <> '[]' GROUP BY j.value ORDER BY j.value",
    ).all()) {
      tags.set(String(row.tag), Number(row.n));
    }
    return tags;
  }

  /** Bytes stored: the database and the raw segments. */
  databaseSize(): number {
    const row = this.#stmt(
      'SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()',
    ).get();
    return Number(row?.size ?? 0) + this.#segments.size();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Messages already answered for must be on disk before the database closes.
    this.#flushPending();
    this.#closed = true;
    await this.#indexing?.catch(() => {});
    this.#analyzeQueue = [];
    while (this.#analyzing > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.#checkpointer?.close();
    this.#db.close();
    this.#segments.close();
    if (this.#tempDir) rmSync(this.#tempDir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export function openSinkStore(options: StoreOptions): SinkStore {
  return new SinkStore(options);
}
