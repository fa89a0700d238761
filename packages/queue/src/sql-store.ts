// The QueueStore contract written once in portable SQL, for the SQLite and PostgreSQL drivers.
// Commit marker: a message exists once its `mq_messages` row commits together with its recipients
// and remaining chunks; staged chunks without that row are orphans, removed at start.
// Leasing takes due recipients in one transaction — PostgreSQL with FOR UPDATE SKIP LOCKED, so
// workers on many machines never take the same recipient while a lease holds.

import type { BodySegments, Extent } from './body-segments.ts';
import { joinParts } from './message-body.ts';
import type { SqlDriver, SqlExecutor, SqlRow, SqlValue } from './sql-driver.ts';
import type {
  BounceReason,
  LeasedGroup,
  ListQuery,
  NewMessage,
  NoticeRow,
  OperatorChange,
  QueueStore,
  RecipientState,
  StoredAttempt,
  StoredMessage,
  StoredRecipient,
} from './store.ts';

function ddl(postgres: boolean): string[] {
  const blob = postgres ? 'BYTEA' : 'BLOB';
  // SQLite: a table keyed by its primary key, not a rowid plus an index on the key, where rows
  // are small; one B-tree to change per row instead of two.
  const keyed = postgres ? '' : ' WITHOUT ROWID';
  return [
    `CREATE TABLE IF NOT EXISTS mq_messages (
      id TEXT PRIMARY KEY,
      mail_from TEXT,
      envelope TEXT NOT NULL,
      meta TEXT NOT NULL,
      size BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      chunks INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      body_deleted INTEGER NOT NULL DEFAULT 0
    )`,
    'CREATE INDEX IF NOT EXISTS mq_messages_created ON mq_messages (created_at)',
    `CREATE TABLE IF NOT EXISTS mq_chunks (
      message_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      data ${blob} NOT NULL,
      staged_at BIGINT NOT NULL,
      PRIMARY KEY (message_id, seq)
    )`,
    `CREATE TABLE IF NOT EXISTS mq_extents (
      message_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      segment INTEGER NOT NULL,
      pos BIGINT NOT NULL,
      len INTEGER NOT NULL,
      PRIMARY KEY (message_id, seq)
    )${keyed}`,
    `CREATE TABLE IF NOT EXISTS mq_recipients (
      message_id TEXT NOT NULL,
      idx INTEGER NOT NULL,
      rcpt TEXT NOT NULL,
      next_hop TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at BIGINT NOT NULL,
      last_reply TEXT,
      last_code INTEGER,
      lease_owner TEXT,
      lease_until BIGINT,
      notice_due_at BIGINT,
      notice_reason TEXT,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (message_id, idx)
    )`,
    `CREATE INDEX IF NOT EXISTS mq_recipients_due ON mq_recipients (next_attempt_at, message_id, idx)
      WHERE state IN ('pending', 'deferred', 'delivering')`,
    `CREATE INDEX IF NOT EXISTS mq_recipients_notice ON mq_recipients (notice_due_at)
      WHERE notice_due_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS mq_attempts (
      message_id TEXT NOT NULL,
      idx INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      at BIGINT NOT NULL,
      status TEXT NOT NULL,
      reply TEXT,
      owner TEXT,
      PRIMARY KEY (message_id, idx, attempt)
    )${keyed}`,
  ];
}

const placeholderLists = new Map<number, string>();
function placeholders(n: number): string {
  let list = placeholderLists.get(n);
  if (list === undefined) {
    list = Array.from({ length: n }, () => '?').join(', ');
    if (n <= 1000) placeholderLists.set(n, list);
  }
  return list;
}

const insertStatements = new Map<string, string>();

/** Multi-row INSERTs keep a batch of many messages to a few statements (round trips on PostgreSQL). */
async function insertRows(
  tx: SqlExecutor,
  table: string,
  columns: readonly string[],
  rows: readonly SqlValue[][],
): Promise<void> {
  const perStatement = Math.max(1, Math.floor(900 / columns.length));
  for (let i = 0; i < rows.length; i += perStatement) {
    const slice = rows.slice(i, i + perStatement);
    const key = `${table}:${columns.length}:${slice.length}`;
    let sql = insertStatements.get(key);
    if (sql === undefined) {
      const row = `(${placeholders(columns.length)})`;
      sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: slice.length }, () => row).join(', ')}`;
      insertStatements.set(key, sql);
    }
    await tx.run(sql, slice.flat());
  }
}

function toMessage(row: SqlRow): StoredMessage {
  return {
    id: String(row.id),
    mailFrom: row.mail_from === null ? null : String(row.mail_from),
    envelope: String(row.envelope),
    meta: String(row.meta),
    size: Number(row.size),
    sha256: String(row.sha256),
    chunks: Number(row.chunks),
    createdAt: Number(row.created_at),
    bodyDeleted: Number(row.body_deleted) !== 0,
  };
}

function toRecipient(row: SqlRow): StoredRecipient {
  return {
    messageId: String(row.message_id),
    idx: Number(row.idx),
    rcpt: String(row.rcpt),
    nextHop: String(row.next_hop),
    state: row.state as RecipientState,
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    lastReply: row.last_reply === null ? null : String(row.last_reply),
    leaseOwner: row.lease_owner === null ? null : String(row.lease_owner),
    noticeDueAt: row.notice_due_at === null ? null : Number(row.notice_due_at),
    noticeReason: row.notice_reason === null ? null : (row.notice_reason as BounceReason),
    updatedAt: Number(row.updated_at),
  };
}

const SMALL_BODY = 64 * 1024;
const SCHEMA_OBJECTS = [
  'mq_messages',
  'mq_messages_created',
  'mq_chunks',
  'mq_extents',
  'mq_recipients',
  'mq_recipients_due',
  'mq_recipients_notice',
  'mq_attempts',
];
const MESSAGE_COLUMNS = 'id, mail_from, envelope, meta, size, sha256, chunks, created_at, body_deleted';
const OPEN_STATES = "('pending', 'deferred', 'delivering')";
/** The message columns qualified with `m.`, for joins. */
const M_COLUMNS = MESSAGE_COLUMNS.split(', ')
  .map((c) => `m.${c}`)
  .join(', ');
/** `n` copies of a VALUES row, comma-separated; each length built once (statements are cached by text). */
function rowList(row: string): (n: number) => string {
  const lists = new Map<number, string>();
  return (n) => {
    let list = lists.get(n);
    if (list === undefined) {
      list = Array.from({ length: n }, () => row).join(', ');
      lists.set(n, list);
    }
    return list;
  };
}
const outcomeRows = rowList(
  '(?, CAST(? AS INTEGER), ?, CAST(? AS BIGINT), ?, CAST(? AS INTEGER), CAST(? AS BIGINT), ?, ?)',
);
const leaseKeys = rowList('(?, CAST(? AS INTEGER))');
const renewKeys = rowList('(?, CAST(? AS INTEGER), ?)');

export interface SqlStoreOptions {
  /**
   * Where bodies above `inlineMax` go instead of `mq_chunks` (the SQLite store): written once,
   * flushed once per group commit before the transaction that names them.
   */
  readonly segments?: BodySegments;
  /** Bodies up to this size stay in the database with the commit. Default 16 KiB. */
  readonly inlineMax?: number;
}

type StagedExtent = Extent & { readonly seq: number };

export async function createSqlStore(driver: SqlDriver, options: SqlStoreOptions = {}): Promise<QueueStore> {
  const postgres = driver.dialect === 'postgres';
  const { segments } = options;
  const inlineMax = options.inlineMax ?? 16 * 1024;
  /** Chunks of large bodies already in a segment, by message, until the message commits. */
  const staged = new Map<string, StagedExtent[]>();
  const skipLocked = postgres ? ' FOR UPDATE SKIP LOCKED' : '';

  await driver.transaction(async (tx) => {
    // Several processes may open one PostgreSQL database at once; DDL must not race. Nor may it
    // run while others work: even CREATE … IF NOT EXISTS takes table locks that can deadlock
    // with their leases. So it runs only when something is missing.
    if (postgres) await tx.all('SELECT pg_advisory_xact_lock(7256001)');
    const names = SCHEMA_OBJECTS.map(() => '?').join(', ');
    const [found] = await tx.all(
      postgres
        ? `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
            WHERE ns.nspname = current_schema() AND c.relname IN (${names})`
        : `SELECT count(*) AS n FROM sqlite_master WHERE name IN (${names})`,
      SCHEMA_OBJECTS,
    );
    if (Number(found?.n) === SCHEMA_OBJECTS.length) return;
    for (const statement of ddl(postgres)) await tx.run(statement);
  });

  /**
   * Serialises changes to the same messages across processes (the last to finish removes the
   * body); always in id order, so that two transactions cannot deadlock.
   */
  async function lockMessages(tx: SqlExecutor, messageIds: readonly string[]): Promise<void> {
    if (!postgres || messageIds.length === 0) return;
    await tx.all(
      `SELECT id FROM mq_messages WHERE id IN (${placeholders(messageIds.length)}) ORDER BY id FOR UPDATE`,
      messageIds,
    );
  }

  /** Removes the bodies of these messages whose recipients are all final with no notice owed. */
  async function removeBodiesIfDone(
    tx: SqlExecutor,
    messageIds: readonly string[],
    settled: readonly string[] = [],
  ): Promise<void> {
    const done = [...settled];
    if (messageIds.length > 0) {
      // Which are done is asked once; the deletes then go by primary key.
      const rows = await tx.all(
        `SELECT id FROM mq_messages WHERE id IN (${placeholders(messageIds.length)}) AND body_deleted = 0
          AND NOT EXISTS (SELECT 1 FROM mq_recipients r WHERE r.message_id = mq_messages.id
            AND (r.state NOT IN ('delivered', 'bounced') OR r.notice_due_at IS NOT NULL))`,
        messageIds,
      );
      for (const row of rows) done.push(String(row.id));
    }
    if (done.length === 0) return;
    const list = placeholders(done.length);
    await tx.run(`DELETE FROM mq_chunks WHERE message_id IN (${list})`, done);
    if (segments) await tx.run(`DELETE FROM mq_extents WHERE message_id IN (${list})`, done);
    await tx.run(`UPDATE mq_messages SET body_deleted = 1 WHERE id IN (${list})`, done);
  }

  /** Deletes segments no row names any more, and cuts unnamed bytes off the ends of the others. */
  async function reclaimSegments(): Promise<number> {
    if (!segments) return 0;
    const guard = segments.guard();
    const rows = await driver.all('SELECT segment, max(pos + len) AS end FROM mq_extents GROUP BY segment');
    return segments.reclaim(new Map(rows.map((r) => [Number(r.segment), Number(r.end)])), guard);
  }

  /** Inserts a batch's rows in one transaction; the `mq_messages` row is the commit marker. */
  async function commitRows(
    batch: readonly NewMessage[],
    external: ReadonlyMap<string, readonly StagedExtent[]>,
  ): Promise<void> {
    await driver.transaction(async (tx) => {
      const chunks: SqlValue[][] = [];
      const extents: SqlValue[][] = [];
      const recipients: SqlValue[][] = [];
      const messages: SqlValue[][] = [];
      for (const message of batch) {
        const outside = external.get(message.id);
        if (outside) {
          for (const e of outside) extents.push([message.id, e.seq, e.segment, e.offset, e.length]);
        } else {
          for (const chunk of message.inlineChunks) {
            chunks.push([message.id, chunk.seq, joinParts(chunk.parts), message.createdAt]);
          }
        }
        for (const r of message.recipients) {
          recipients.push([
            message.id,
            r.idx,
            r.rcpt,
            r.nextHop,
            r.state ?? 'pending',
            0,
            message.createdAt,
            r.reply ?? null,
            message.createdAt,
          ]);
        }
        messages.push([
          message.id,
          message.mailFrom,
          message.envelope,
          message.meta,
          message.size,
          message.sha256,
          message.chunks,
          message.createdAt,
          0,
        ]);
      }
      await insertRows(tx, 'mq_chunks', ['message_id', 'seq', 'data', 'staged_at'], chunks);
      await insertRows(tx, 'mq_extents', ['message_id', 'seq', 'segment', 'pos', 'len'], extents);
      await insertRows(
        tx,
        'mq_recipients',
        [
          'message_id',
          'idx',
          'rcpt',
          'next_hop',
          'state',
          'attempts',
          'next_attempt_at',
          'last_reply',
          'updated_at',
        ],
        recipients,
      );
      // The commit marker goes last; in one transaction the order is for readers of this code.
      await insertRows(tx, 'mq_messages', MESSAGE_COLUMNS.split(', '), messages);
    });
  }

  return {
    kind: driver.dialect,

    async stageChunk(messageId, seq, parts, now) {
      if (segments) {
        const [extent] = await segments.append([parts]);
        if (extent) staged.set(messageId, [...(staged.get(messageId) ?? []), { ...extent, seq }]);
        return;
      }
      // Not flushed here: the commit that makes the message exist flushes everything before it.
      await driver.transaction(
        (tx) =>
          tx.run('INSERT INTO mq_chunks (message_id, seq, data, staged_at) VALUES (?, ?, ?, ?)', [
            messageId,
            seq,
            joinParts(parts),
            now,
          ]),
        { durable: false },
      );
    },

    async discardStaged(messageId) {
      const extents = staged.get(messageId);
      if (extents) {
        staged.delete(messageId);
        for (const extent of extents) segments?.unpin([extent]);
      }
      await driver.transaction(
        (tx) =>
          tx.run(
            'DELETE FROM mq_chunks WHERE message_id = ? AND NOT EXISTS (SELECT 1 FROM mq_messages WHERE id = ?)',
            [messageId, messageId],
          ),
        { durable: false },
      );
    },

    async commit(batch) {
      if (batch.length === 0) return;
      // Large bodies: their last chunks go to a segment in one write, then every segment holding
      // a chunk of this batch is flushed — all before the transaction that makes them exist.
      const external = new Map<string, StagedExtent[]>();
      let tails: Extent[] = [];
      if (segments) {
        const outside = batch.filter((m) => staged.has(m.id) || m.size > inlineMax);
        const chunks = outside.flatMap((m) => m.inlineChunks);
        tails = chunks.length > 0 ? await segments.append(chunks.map((c) => c.parts)) : [];
        let at = 0;
        for (const message of outside) {
          const extents = [...(staged.get(message.id) ?? [])];
          for (const chunk of message.inlineChunks) {
            const tail = tails[at++];
            if (tail) extents.push({ ...tail, seq: chunk.seq });
          }
          external.set(message.id, extents);
        }
      }
      try {
        for (const message of batch) {
          const extents = external.get(message.id);
          // Chunks staged elsewhere (a store thread that died since) are not in this store's hands:
          // committing would make a message whose body cannot be read. Its enqueue fails instead.
          if (extents && extents.length !== message.chunks) {
            throw new Error(
              `body of ${message.id} incomplete: ${extents.length} of ${message.chunks} chunks`,
            );
          }
        }
        if (segments && external.size > 0) {
          await segments.sync([...external.values()].flatMap((extents) => extents.map((e) => e.segment)));
        }
        await commitRows(batch, external);
      } finally {
        segments?.unpin(tails);
      }
      for (const id of external.keys()) {
        for (const extent of staged.get(id) ?? []) segments?.unpin([extent]);
        staged.delete(id);
      }
      if (segments?.rolled) void reclaimSegments().catch(() => undefined);
    },

    async lease(query) {
      if (query.maxGroups <= 0) return [];
      return driver.transaction(
        async (tx) => {
          const exclude =
            query.exclude.length > 0 ? ` AND next_hop NOT IN (${placeholders(query.exclude.length)})` : '';
          // Candidates are locked until this transaction ends: take enough to fill the groups, not
          // so many that other workers find everything locked.
          const window = Math.min(
            query.maxGroups * query.maxRecipients,
            query.maxGroups + query.maxRecipients + 16,
            5000,
          );
          const candidates = await tx.all(
            `SELECT message_id, idx, rcpt, next_hop, attempts FROM mq_recipients
            WHERE state IN ${OPEN_STATES} AND next_attempt_at <= ?${exclude}
            ORDER BY next_attempt_at, message_id, idx LIMIT ?${skipLocked}`,
            [query.now, ...query.exclude, window],
          );
          const groups = new Map<
            string,
            { messageId: string; nextHop: string; recipients: LeasedGroup['recipients'][number][] }
          >();
          const perHop = new Map<string, number>();
          for (const row of candidates) {
            const messageId = String(row.message_id);
            const nextHop = String(row.next_hop);
            const key = `${messageId}\u0000${nextHop}`;
            let group = groups.get(key);
            if (!group) {
              const taken = perHop.get(nextHop) ?? 0;
              if (groups.size >= query.maxGroups || taken >= query.slotsFor(nextHop)) continue;
              perHop.set(nextHop, taken + 1);
              group = { messageId, nextHop, recipients: [] };
              groups.set(key, group);
            }
            if (group.recipients.length >= query.maxRecipients) continue;
            group.recipients.push({
              idx: Number(row.idx),
              rcpt: String(row.rcpt),
              attempts: Number(row.attempts),
            });
          }
          if (groups.size === 0) return [];
          // Parameters built flat, 400 recipients a statement (SQL strings and lists cached by size).
          const head: SqlValue[] = [query.owner, query.leaseUntil, query.leaseUntil, query.now];
          let params = head.slice();
          const flush = async (): Promise<void> => {
            const n = (params.length - head.length) / 2;
            await tx.run(
              `UPDATE mq_recipients SET state = 'delivering', lease_owner = ?, lease_until = ?, next_attempt_at = ?,
              updated_at = ? WHERE (message_id, idx) IN (VALUES ${leaseKeys(n)})`,
              params,
            );
            params = head.slice();
          };
          const ids = new Set<string>();
          for (const g of groups.values()) {
            ids.add(g.messageId);
            for (const r of g.recipients) {
              params.push(g.messageId, r.idx);
              if (params.length - head.length === 800) await flush();
            }
          }
          if (params.length > head.length) await flush();
          const unique = [...ids];
          const rows = await tx.all(
            `SELECT ${M_COLUMNS}, c.data AS small_body FROM mq_messages m
              LEFT JOIN mq_chunks c ON c.message_id = m.id AND c.seq = 0 AND m.chunks = 1 AND m.size <= ${SMALL_BODY}
              WHERE m.id IN (${placeholders(unique.length)})`,
            unique,
          );
          const messages = new Map(rows.map((row) => [String(row.id), row]));
          const leased: LeasedGroup[] = [];
          for (const group of groups.values()) {
            const row = messages.get(group.messageId);
            if (!row) continue;
            leased.push({
              message: toMessage(row),
              ...(row.small_body ? { body: row.small_body as Uint8Array } : {}),
              nextHop: group.nextHop,
              recipients: group.recipients,
            });
          }
          return leased;
        },
        { durable: false },
      );
    },

    async renew(groups, leaseUntil, now) {
      if (!groups.some((g) => g.idxs.length > 0)) return groups.map(() => []);
      return driver.transaction(
        async (tx) => {
          // Messages locked first, in id order, as `complete` locks them: a renewal that meets the
          // record of the same recipients waits for it instead of deadlocking with it.
          await lockMessages(tx, [...new Set(groups.map((g) => g.messageId))].sort());
          const renewed = new Set<string>();
          const head: SqlValue[] = [leaseUntil, leaseUntil, now];
          let params = head.slice();
          const flush = async (): Promise<void> => {
            const rows = await tx.all(
              `UPDATE mq_recipients SET lease_until = ?, next_attempt_at = ?, updated_at = ?
                WHERE state = 'delivering'
                  AND (message_id, idx, lease_owner) IN (VALUES ${renewKeys((params.length - head.length) / 3)})
                RETURNING message_id, idx`,
              params,
            );
            for (const row of rows) renewed.add(`${String(row.message_id)} ${Number(row.idx)}`);
            params = head.slice();
          };
          for (const g of groups) {
            for (const idx of g.idxs) {
              params.push(g.messageId, idx, g.owner);
              if (params.length - head.length === 900) await flush();
            }
          }
          if (params.length > head.length) await flush();
          return groups.map((g) => g.idxs.filter((idx) => renewed.has(`${g.messageId} ${idx}`)));
        },
        // A renewal lost in a crash is harmless: the process that held the lease is gone too.
        { durable: false },
      );
    },

    async release(owner, messageId, idxs, now) {
      if (idxs.length === 0) return;
      await driver.transaction(
        (tx) =>
          tx.run(
            `UPDATE mq_recipients SET state = CASE WHEN attempts > 0 THEN 'deferred' ELSE 'pending' END,
          lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ?
          WHERE message_id = ? AND lease_owner = ? AND state = 'delivering' AND idx IN (${placeholders(idxs.length)})`,
            [now, now, messageId, owner, ...idxs],
          ),
        { durable: false },
      );
    },

    async complete(groups, now) {
      // Not flushed: outcomes are recorded as Postfix removes a delivered queue file, without
      // waiting for the disk. A process that dies loses nothing (the commit is in the WAL, in the
      // OS); a machine that loses power may lose the last outcomes, whose recipients then come up
      // again after their lease and are delivered again: at least once, as promised, never lost.
      // The next durable commit (an enqueue, a DSN) flushes these with it.
      return driver.transaction(
        async (tx) => {
          const order = [...new Set(groups.map((g) => g.messageId))].sort();
          await lockMessages(tx, order);
          const applied = new Map<string, number>();
          // One statement for up to 100 recipients, parameters built flat: VALUES columns are
          // column1… in both dialects.
          let params: SqlValue[] = [now];
          const flush = async (): Promise<void> => {
            const returned = await tx.all(
              `UPDATE mq_recipients SET state = v.column3, attempts = attempts + 1, next_attempt_at = v.column4,
              last_reply = v.column5, last_code = v.column6, lease_owner = NULL, lease_until = NULL,
              notice_due_at = v.column7, notice_reason = v.column8, updated_at = ?
              FROM (VALUES ${outcomeRows((params.length - 1) / 9)}) AS v
              WHERE mq_recipients.message_id = v.column1 AND mq_recipients.idx = v.column2
                AND mq_recipients.state = 'delivering' AND mq_recipients.lease_owner = v.column9
              RETURNING message_id, idx, attempts`,
              params,
            );
            for (const r of returned)
              applied.set(`${String(r.message_id)} ${Number(r.idx)}`, Number(r.attempts));
            params = [now];
          };
          for (const g of groups) {
            for (const u of g.updates) {
              params.push(
                g.messageId,
                u.idx,
                u.state,
                u.nextAttemptAt,
                u.reply,
                u.code,
                u.noticeDueAt,
                u.noticeReason,
                g.owner,
              );
              if (params.length === 1 + 9 * 100) await flush();
            }
          }
          if (params.length > 1) await flush();
          const attempts: SqlValue[][] = [];
          const results = groups.map((g) => {
            const done: number[] = [];
            for (const u of g.updates) {
              const attempt = applied.get(`${g.messageId} ${u.idx}`);
              if (attempt === undefined) continue;
              done.push(u.idx);
              attempts.push([g.messageId, u.idx, attempt, now, u.state, u.reply, g.owner]);
            }
            return done;
          });
          await insertRows(
            tx,
            'mq_attempts',
            ['message_id', 'idx', 'attempt', 'at', 'status', 'reply', 'owner'],
            attempts,
          );
          // A message whose every recipient just became final needs no question to know it is done.
          const settled = new Set<string>();
          groups.forEach((g, i) => {
            if (g.settlesMessage && results[i]?.length === g.updates.length) settled.add(g.messageId);
          });
          await removeBodiesIfDone(
            tx,
            order.filter((id) => !settled.has(id)),
            [...settled],
          );
          return results;
        },
        { durable: false },
      );
    },

    async claimNotices(now, until, limit, messageId) {
      const only = messageId === undefined ? '' : ' AND message_id = ?';
      const rows = await driver.transaction(
        (tx) =>
          tx.all(
            `UPDATE mq_recipients SET notice_due_at = ? WHERE (message_id, idx) IN (
          SELECT message_id, idx FROM mq_recipients
            WHERE notice_due_at IS NOT NULL AND notice_due_at <= ?${only}
            ORDER BY notice_due_at LIMIT ?${skipLocked})
          RETURNING message_id, idx, rcpt, next_hop, last_reply, notice_reason`,
            messageId === undefined ? [until, now, limit] : [until, now, messageId, limit],
          ),
        { durable: false },
      );
      return rows.map(
        (row): NoticeRow => ({
          messageId: String(row.message_id),
          idx: Number(row.idx),
          rcpt: String(row.rcpt),
          nextHop: String(row.next_hop),
          reply: row.last_reply === null ? null : String(row.last_reply),
          reason: (row.notice_reason ?? 'rejected') as BounceReason,
        }),
      );
    },

    async clearNotices(messageId, idxs) {
      if (idxs.length === 0) return;
      await driver.transaction(async (tx) => {
        await lockMessages(tx, [messageId]);
        await tx.run(
          `UPDATE mq_recipients SET notice_due_at = NULL, notice_reason = NULL
            WHERE message_id = ? AND idx IN (${placeholders(idxs.length)})`,
          [messageId, ...idxs],
        );
        await removeBodiesIfDone(tx, [messageId]);
      });
    },

    async readChunk(messageId, seq) {
      if (segments) {
        const [extent] = await driver.all(
          'SELECT segment, pos, len FROM mq_extents WHERE message_id = ? AND seq = ?',
          [messageId, seq],
        );
        if (extent) {
          return segments.read({
            segment: Number(extent.segment),
            offset: Number(extent.pos),
            length: Number(extent.len),
          });
        }
      }
      const [row] = await driver.all('SELECT data FROM mq_chunks WHERE message_id = ? AND seq = ?', [
        messageId,
        seq,
      ]);
      return row ? (row.data as Uint8Array) : undefined;
    },

    async getMessage(messageId) {
      const [row] = await driver.all(`SELECT ${MESSAGE_COLUMNS} FROM mq_messages WHERE id = ?`, [messageId]);
      return row ? toMessage(row) : undefined;
    },

    async listMessages(query: ListQuery) {
      const where: string[] = [];
      const params: SqlValue[] = [];
      if (query.mailFrom === null) where.push('m.mail_from IS NULL');
      else if (query.mailFrom !== undefined) {
        where.push('lower(m.mail_from) = lower(?)');
        params.push(query.mailFrom);
      }
      if (query.createdBefore !== undefined) {
        where.push('m.created_at < ?');
        params.push(query.createdBefore);
      }
      if (query.createdAfter !== undefined) {
        where.push('m.created_at > ?');
        params.push(query.createdAfter);
      }
      const sub: string[] = [];
      if (query.states && query.states.length > 0) {
        sub.push(`r.state IN (${placeholders(query.states.length)})`);
        params.push(...query.states);
      }
      if (query.nextHop !== undefined) {
        sub.push('r.next_hop = ?');
        params.push(query.nextHop);
      }
      if (query.rcpt !== undefined) {
        sub.push('lower(r.rcpt) = lower(?)');
        params.push(query.rcpt);
      }
      if (sub.length > 0) {
        where.push(
          `EXISTS (SELECT 1 FROM mq_recipients r WHERE r.message_id = m.id AND ${sub.join(' AND ')})`,
        );
      }
      params.push(query.limit);
      const rows = await driver.all(
        `SELECT ${M_COLUMNS} FROM mq_messages m ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY m.created_at, m.id LIMIT ?`,
        params,
      );
      return rows.map(toMessage);
    },

    async recipients(messageIds) {
      if (messageIds.length === 0) return [];
      const rows = await driver.all(
        `SELECT * FROM mq_recipients WHERE message_id IN (${placeholders(messageIds.length)})
          ORDER BY message_id, idx`,
        messageIds,
      );
      return rows.map(toRecipient);
    },

    async attempts(messageId) {
      const rows = await driver.all(
        'SELECT idx, attempt, at, status, reply, owner FROM mq_attempts WHERE message_id = ? ORDER BY at, idx, attempt',
        [messageId],
      );
      return rows.map(
        (row): StoredAttempt => ({
          idx: Number(row.idx),
          attempt: Number(row.attempt),
          at: Number(row.at),
          status: row.status as StoredAttempt['status'],
          reply: row.reply === null ? null : String(row.reply),
          owner: row.owner === null ? null : String(row.owner),
        }),
      );
    },

    async change(change: OperatorChange) {
      return driver.transaction(async (tx) => {
        await lockMessages(tx, [change.messageId]);
        const sets = [
          'state = ?',
          'next_attempt_at = ?',
          'lease_owner = NULL',
          'lease_until = NULL',
          'updated_at = ?',
        ];
        const params: SqlValue[] = [change.state, change.nextAttemptAt, change.now];
        if (change.reply !== undefined) {
          sets.push('last_reply = ?', 'last_code = ?');
          params.push(change.reply, change.code ?? null);
        }
        if (change.noticeDueAt !== undefined) {
          sets.push('notice_due_at = ?', 'notice_reason = ?');
          params.push(change.noticeDueAt, change.noticeReason ?? null);
        }
        params.push(change.messageId, ...change.from);
        let rcpt = '';
        if (change.rcpt !== undefined) {
          rcpt = ' AND lower(rcpt) = lower(?)';
          params.push(change.rcpt);
        }
        const rows = await tx.all(
          `UPDATE mq_recipients SET ${sets.join(', ')}
            WHERE message_id = ? AND state IN (${placeholders(change.from.length)})${rcpt} RETURNING *`,
          params,
        );
        await removeBodiesIfDone(tx, [change.messageId]);
        return rows.map(toRecipient);
      });
    },

    async deleteMessage(messageId) {
      return driver.transaction(async (tx) => {
        await tx.run('DELETE FROM mq_attempts WHERE message_id = ?', [messageId]);
        await tx.run('DELETE FROM mq_recipients WHERE message_id = ?', [messageId]);
        await tx.run('DELETE FROM mq_chunks WHERE message_id = ?', [messageId]);
        await tx.run('DELETE FROM mq_extents WHERE message_id = ?', [messageId]);
        return (await tx.run('DELETE FROM mq_messages WHERE id = ?', [messageId])) > 0;
      });
    },

    async counts() {
      const counts: Record<RecipientState, number> = {
        pending: 0,
        delivering: 0,
        delivered: 0,
        deferred: 0,
        bounced: 0,
        held: 0,
      };
      for (const row of await driver.all('SELECT state, count(*) AS n FROM mq_recipients GROUP BY state')) {
        counts[row.state as RecipientState] = Number(row.n);
      }
      return counts;
    },

    async cleanOrphans(stagedBefore) {
      const cleaned = await driver.transaction(async (tx) => {
        const chunks = await tx.run(
          `DELETE FROM mq_chunks WHERE staged_at < ?
            AND NOT EXISTS (SELECT 1 FROM mq_messages m WHERE m.id = mq_chunks.message_id)`,
          [stagedBefore],
        );
        const done = `SELECT m.id FROM mq_messages m WHERE m.body_deleted = 0 AND NOT EXISTS (
            SELECT 1 FROM mq_recipients r WHERE r.message_id = m.id
              AND (r.state NOT IN ('delivered', 'bounced') OR r.notice_due_at IS NOT NULL))`;
        await tx.run(`DELETE FROM mq_chunks WHERE message_id IN (${done})`);
        if (segments) {
          await tx.run(`DELETE FROM mq_extents WHERE message_id IN (${done})`);
          await tx.run(
            'DELETE FROM mq_extents WHERE NOT EXISTS (SELECT 1 FROM mq_messages m WHERE m.id = mq_extents.message_id)',
          );
        }
        const bodies = await tx.run(`UPDATE mq_messages SET body_deleted = 1 WHERE id IN (${done})`);
        return { chunks, bodies };
      });
      return { ...cleaned, segmentBytes: await reclaimSegments() };
    },

    close: () => driver.close(),
  };
}
