// The sink's message store: SQLite (node:sqlite) in one file. Raw bytes are kept exactly, in
// 1 MiB chunks written as they arrive (a 50 MB message never sits in memory whole); the
// parsed summary is computed once per message in the background (parse-message.ts) and cached
// in indexed columns so that listing and searching 10,000 messages stays fast. Holds at most
// `maxMessages` (oldest pruned) and drops messages older than `maxAgeMs`.

import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { newMessageId } from './message-id.ts';
import { type MailAddress, type ParsedMessage, parseMessage } from './parse-message.ts';

const CHUNK = 1 << 20;

export interface StoreOptions {
  /** SQLite file; `:memory:` for a throwaway store. */
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

export interface StoredMessage {
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
  readonly subject: string;
  readonly messageId: string;
  readonly from: MailAddress | null;
  readonly to: readonly MailAddress[];
  readonly cc: readonly MailAddress[] | null;
  readonly bcc: readonly MailAddress[] | null;
  readonly replyTo: readonly MailAddress[];
  readonly snippet: string;
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
  /** Stores the message; resolves with its id once it is committed. */
  commit(meta: NewMessageMeta): string;
  abort(): void;
  readonly size: number;
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
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
  search_text TEXT NOT NULL DEFAULT '',
  date INTEGER,
  detail TEXT,
  verdicts TEXT
);
CREATE INDEX IF NOT EXISTS messages_created ON messages (created);
CREATE INDEX IF NOT EXISTS messages_unread ON messages (read) WHERE read = 0;
CREATE INDEX IF NOT EXISTS messages_unparsed ON messages (parsed) WHERE parsed = 0;
CREATE INDEX IF NOT EXISTS messages_message_id ON messages (message_id);
CREATE TABLE IF NOT EXISTS raw (
  id TEXT NOT NULL,
  n INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (id, n)
) WITHOUT ROWID;
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
  #lastWrite = 0;
  #closed = false;

  constructor(options: StoreOptions) {
    this.#options = options;
    this.path = options.path;
    this.#now = options.now ?? Date.now;
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(SCHEMA);
    // Chunks of a message whose DATA never completed (crash mid-transfer) belong to nobody.
    this.#db.exec('DELETE FROM raw WHERE id NOT IN (SELECT id FROM messages)');
    this.events.setMaxListeners(0);
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

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Starts receiving one message. Small messages stay in memory until commit; large ones spill in chunks. */
  createWriter(): MessageWriter {
    const id = newMessageId();
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let n = 0;
    let size = 0;
    let finished = false;
    const insert = this.#stmt('INSERT INTO raw (id, n, data) VALUES (?, ?, ?)');
    const flush = (all: boolean) => {
      while (bufferedBytes >= CHUNK || (all && bufferedBytes > 0)) {
        const joined = Buffer.concat(buffered, bufferedBytes);
        const take = Math.min(CHUNK, joined.length);
        insert.run(id, n++, joined.subarray(0, take));
        const rest = joined.subarray(take);
        buffered = rest.length > 0 ? [Buffer.from(rest)] : [];
        bufferedBytes = rest.length;
      }
    };
    return {
      get size() {
        return size;
      },
      write: (chunk: Buffer) => {
        if (finished) return;
        buffered.push(chunk);
        bufferedBytes += chunk.length;
        size += chunk.length;
        if (bufferedBytes >= CHUNK) flush(false);
      },
      commit: (meta: NewMessageMeta) => {
        if (finished) throw new Error('message already finished');
        finished = true;
        const created = this.#now();
        this.#transaction(() => {
          flush(true);
          this.#stmt(
            'INSERT INTO messages (id, created, size, mail_from, rcpt_to, helo, remote, username, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          ).run(
            id,
            created,
            size,
            meta.mailFrom,
            JSON.stringify(meta.rcptTo),
            meta.helo ?? '',
            meta.remoteAddress ?? '',
            meta.username ?? '',
            JSON.stringify(meta.tags ?? []),
          );
        });
        this.stats.accepted++;
        this.stats.acceptedSize += size;
        this.#lastWrite = created;
        this.#prune();
        this.#kickIndexer();
        return id;
      },
      abort: () => {
        if (finished) return;
        finished = true;
        buffered = [];
        if (n > 0) this.#stmt('DELETE FROM raw WHERE id = ?').run(id);
      },
    };
  }

  /** Stores a complete message given as bytes (the send API, imports, tests). */
  add(raw: Buffer | string, meta: NewMessageMeta): string {
    const writer = this.createWriter();
    writer.write(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
    return writer.commit(meta);
  }

  #prune(): void {
    const max = this.#options.maxMessages ?? 0;
    const maxAge = this.#options.maxAgeMs ?? 0;
    const victims: string[] = [];
    if (maxAge > 0) {
      const cutoff = this.#now() - maxAge;
      for (const row of this.#stmt('SELECT id FROM messages WHERE created < ?').all(cutoff))
        victims.push(String(row.id));
    }
    if (max > 0) {
      const total = Number(this.#stmt('SELECT count(*) AS n FROM messages').get()?.n ?? 0) - victims.length;
      if (total > max) {
        for (const row of this.#stmt('SELECT id FROM messages ORDER BY seq ASC LIMIT ?').all(
          total - max + victims.length,
        )) {
          if (!victims.includes(String(row.id))) victims.push(String(row.id));
        }
      }
    }
    if (victims.length === 0) return;
    this.#deleteIds(victims);
    this.#emit({ Type: 'prune', Data: null });
  }

  /** Applies `--max-age` now (also runs on every new message). */
  pruneNow(): void {
    this.#prune();
  }

  #deleteIds(ids: readonly string[]): number {
    let deleted = 0;
    this.#transaction(() => {
      for (const id of ids) {
        const result = this.#stmt('DELETE FROM messages WHERE id = ?').run(id);
        if (Number(result.changes) > 0) {
          this.#stmt('DELETE FROM raw WHERE id = ?').run(id);
          deleted++;
        }
      }
    });
    this.stats.deleted += deleted;
    return deleted;
  }

  // --- background parsing -------------------------------------------------------------------

  #kickIndexer(): void {
    if (this.#indexing || this.#closed) return;
    this.#indexing = (async () => {
      // Let the SMTP reply go out first: parsing is deferred work, not part of acceptance.
      await new Promise((resolve) => setImmediate(resolve));
      for (;;) {
        if (this.#closed) break;
        const row = this.#stmt(
          'SELECT id, created FROM messages WHERE parsed = 0 ORDER BY seq ASC LIMIT 1',
        ).get();
        if (!row) break;
        // Lazy: while mail is streaming in, accepting comes first. Parse when the SMTP side has
        // been quiet for a moment, when a reader waits (idle()), or when a message waited 2 s.
        const now = this.#now();
        if (this.#waiters === 0 && now - this.#lastWrite < 100 && now - Number(row.created) < 2000) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        await this.#parseOne(String(row.id));
      }
    })().finally(() => {
      this.#indexing = null;
    });
  }

  /** Resolves once every stored message has been parsed (the API waits on it before queries). */
  async idle(): Promise<void> {
    this.#waiters++;
    try {
      while (this.#indexing) await this.#indexing;
    } finally {
      this.#waiters--;
    }
  }

  async #parseOne(id: string): Promise<void> {
    let parsed: ParsedMessage | null = null;
    let failure = '';
    try {
      parsed = await parseMessage(this.openRaw(id));
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
    }
    if (this.#closed) return;
    if (!this.#stmt('SELECT 1 AS x FROM messages WHERE id = ?').get(id)) return;
    if (parsed) {
      const { searchText, ...detail } = parsed;
      this.#stmt(
        `UPDATE messages SET parsed = 1, subject = ?, message_id = ?, from_json = ?, to_json = ?, cc_json = ?,
         bcc_json = ?, reply_to_json = ?, snippet = ?, attachments = ?, inlines = ?, search_text = ?, date = ?, detail = ?
         WHERE id = ?`,
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
        searchText,
        parsed.date,
        JSON.stringify(detail),
        id,
      );
    } else {
      this.#stmt('UPDATE messages SET parsed = 2, detail = ? WHERE id = ?').run(
        JSON.stringify({ parseError: failure }),
        id,
      );
    }
    const stored = this.get(id);
    if (!stored) return;
    this.#emit({ Type: 'new', Data: stored });
    if (this.#options.analyze) this.#scheduleAnalyze(stored);
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
          const result = this.#stmt('UPDATE messages SET verdicts = ? WHERE id = ?').run(
            JSON.stringify(verdicts ?? null),
            message.id,
          );
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
    const row = this.#stmt(`SELECT ${SUMMARY_COLUMNS} FROM messages WHERE id = ?`).get(id);
    return row ? toStored(row) : null;
  }

  /** The parsed detail (bodies, attachments, links) and the verdicts of one message. */
  detail(id: string): {
    parsed: (Omit<ParsedMessage, 'searchText'> & { parseError?: string }) | null;
    verdicts: unknown;
  } {
    const row = this.#stmt('SELECT detail, verdicts FROM messages WHERE id = ?').get(id);
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
    const where = filter ? `WHERE ${filter.sql}` : '';
    const row = this.#stmt(
      `SELECT count(*) AS total, coalesce(sum(read = 0), 0) AS unread FROM messages ${where}`,
    ).get(...(filter?.params ?? []));
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
    const statement = this.#db.prepare('SELECT data FROM raw WHERE id = ? AND n = ?');
    let n = 0;
    return new Readable({
      read() {
        try {
          const row = statement.get(id, n++);
          this.push(row ? Buffer.from(row.data as Uint8Array) : null);
        } catch (error) {
          this.destroy(error as Error);
        }
      },
    });
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
        const result = this.#stmt('UPDATE messages SET read = ? WHERE id = ? AND read <> ?').run(
          read ? 1 : 0,
          id,
          read ? 1 : 0,
        );
        if (Number(result.changes) > 0) changed.push(id);
      }
    });
    for (const id of changed) this.#emit({ Type: 'update', Data: { ID: id, Read: read } });
  }

  delete(ids: readonly string[]): number {
    const deleted = this.#deleteIds(ids);
    for (const id of ids) this.#emit({ Type: 'delete', Data: { ID: id } });
    return deleted;
  }

  deleteAll(): void {
    const { total } = this.count();
    this.#transaction(() => {
      this.#db.exec('DELETE FROM messages; DELETE FROM raw;');
    });
    this.stats.deleted += total;
    this.#emit({ Type: 'truncate', Data: null });
  }

  setTags(id: string, tags: readonly string[]): void {
    const unique = [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
    this.#stmt('UPDATE messages SET tags = ? WHERE id = ?').run(JSON.stringify(unique), id);
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

  databaseSize(): number {
    const row = this.#stmt(
      'SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()',
    ).get();
    return Number(row?.size ?? 0);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#indexing?.catch(() => {});
    this.#analyzeQueue = [];
    while (this.#analyzing > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    this.#db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export function openSinkStore(options: StoreOptions): SinkStore {
  return new SinkStore(options);
}
