// Mailpit's search syntax (internal/storage/search.go) compiled to a SQL condition over the
// store's indexed columns: space-separated terms ANDed, `"quoted phrases"`, `-`/`!` negation,
// `from: to: cc: bcc: reply-to: addressed: subject: message-id: tag: is: has: before: after:
// larger: smaller:`; any other word is a substring of the message's search text (found through
// the store's FTS5 trigram index).

import type { SQLInputValue } from 'node:sqlite';
import { cleanString } from './parse-message.ts';
import type { Filter } from './store.ts';

/** Splits on spaces; `"…"` groups a phrase (the quotes are dropped, also after a `prefix:`). */
export function tokenize(query: string): string[] {
  const terms: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of query) {
    if (ch === '"') {
      quoted = !quoted;
    } else if (/\s/.test(ch) && !quoted) {
      if (current) terms.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) terms.push(current);
  return terms;
}

function escapeLike(text: string): string {
  // Mailpit passes values to LIKE unescaped (so `_` is a wildcard there); we do the same for
  // `_` and `%` to stay compatible.
  return `%${text}%`;
}

function parseSize(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(k|kb|m|mb)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1;
  return Math.round(Number(match[1]) * factor);
}

function parseDate(text: string): number | null {
  const value = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00` : text);
  return Number.isNaN(value) ? null : value;
}

const ADDRESS_COLUMNS: Record<string, string> = {
  'to:': 'to_json',
  'from:': 'from_json',
  'cc:': 'cc_json',
  'bcc:': 'bcc_json',
  'reply-to:': 'reply_to_json',
};

/**
 * A substring of the search text. The store's trigram index (FTS5) finds words of 3+ characters
 * as a phrase of trigrams, which is an exact, case-insensitive substring match; it holds the
 * first SEARCH_INDEXED characters of each message, so messages with more (`long`) are matched
 * with LIKE as well. Shorter words, and words with Mailpit's LIKE wildcards `%` `_`, scan.
 */
function textClause(word: string, add: (sql: string, ...values: SQLInputValue[]) => void): void {
  if ([...word].length >= 3 && !/[%_]/.test(word)) {
    add(
      'seq IN (SELECT rowid FROM search WHERE search MATCH ? UNION SELECT seq FROM details WHERE long = 1 AND search_text LIKE ?)',
      `"${word.replaceAll('"', '""')}"`,
      escapeLike(word),
    );
  } else {
    add('seq IN (SELECT seq FROM details WHERE search_text LIKE ?)', escapeLike(word));
  }
}

/** Compiles a Mailpit search query; returns null for an empty query. */
export function compileSearch(query: string): Filter | null {
  const clauses: string[] = [];
  const params: SQLInputValue[] = [];
  for (let term of tokenize(query)) {
    let negate = false;
    if (term.startsWith('-') || term.startsWith('!')) {
      negate = true;
      term = term.slice(1);
    }
    if (!term) continue;
    const lower = term.toLowerCase();
    const prefix = /^[a-z-]+:/.exec(lower)?.[0] ?? '';
    const raw = term.slice(prefix.length);
    const value = cleanString(raw);
    let clause: string | null = null;
    const add = (sql: string, ...values: SQLInputValue[]) => {
      clause = sql;
      params.push(...values);
    };
    if (prefix in ADDRESS_COLUMNS) {
      if (value) add(`lower(coalesce(${ADDRESS_COLUMNS[prefix]}, '')) LIKE ?`, escapeLike(value));
    } else if (prefix === 'addressed:') {
      if (value) {
        const like = escapeLike(value);
        add(
          "lower(to_json || ' ' || from_json || ' ' || coalesce(cc_json, '') || ' ' || coalesce(bcc_json, '') || ' ' || reply_to_json) LIKE ?",
          like,
        );
      }
    } else if (prefix === 'subject:') {
      if (value) add('lower(subject) LIKE ?', escapeLike(value));
    } else if (prefix === 'message-id:') {
      if (raw) add('message_id LIKE ?', escapeLike(raw.replace(/^<|>$/g, '')));
    } else if (prefix === 'tag:') {
      if (raw)
        add('EXISTS (SELECT 1 FROM json_each(messages.tags) WHERE lower(value) = ?)', raw.toLowerCase());
    } else if (prefix === 'is:') {
      if (value === 'read') add('read = 1');
      else if (value === 'unread') add('read = 0');
      else if (value === 'tagged') add("tags <> '[]'");
    } else if (prefix === 'has:') {
      if (value === 'attachment' || value === 'attachments') add('attachments > 0');
      else if (value === 'inline' || value === 'inlines') add('inlines > 0');
    } else if (prefix === 'after:' || prefix === 'before:') {
      const ms = parseDate(raw);
      if (ms !== null) add(prefix === 'after:' ? 'created > ?' : 'created < ?', ms);
    } else if (prefix === 'larger:' || prefix === 'smaller:') {
      const size = parseSize(raw);
      if (size !== null) add(prefix === 'larger:' ? 'size > ?' : 'size < ?', size);
    } else {
      const word = cleanString(term);
      if (word) textClause(word, add);
    }
    if (clause) clauses.push(negate ? `NOT (${clause})` : clause);
  }
  if (clauses.length === 0) return query.trim() ? { sql: '1 = 0', params: [] } : null;
  return { sql: clauses.join(' AND '), params };
}
