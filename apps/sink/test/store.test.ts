import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSinkStore } from '../src/index.ts';

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailyard-store-'));
  dirs.push(dir);
  return join(dir, 'sink.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const meta = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'] };

describe('SinkStore', () => {
  it('keeps the raw bytes exactly, including 8-bit and bare-LF content, across 1 MiB chunks', async () => {
    await using store = openSinkStore({ path: tempDb() });
    const body = Buffer.concat([
      Buffer.from('Subject: bytes\r\n\r\n'),
      Buffer.from([0x00, 0xff, 0x0a, 0x0d, 0x80]),
      Buffer.alloc(3 * 1024 * 1024 + 17, 0x61),
    ]);
    const writer = store.createWriter();
    for (let i = 0; i < body.length; i += 65_536) writer.write(body.subarray(i, i + 65_536));
    const id = await writer.commit(meta);
    expect((await store.readRaw(id)).equals(body)).toBe(true);
    expect(store.get(id)?.size).toBe(body.length);
  });

  it('prunes the oldest messages beyond maxMessages', async () => {
    await using store = openSinkStore({ path: tempDb(), maxMessages: 3 });
    const ids = [1, 2, 3, 4, 5].map((n) => store.add(`Subject: m${n}\r\n\r\nx\r\n`, meta));
    expect(store.count().total).toBe(3);
    expect(store.get(ids[0]!)).toBeNull();
    expect(store.get(ids[1]!)).toBeNull();
    expect(store.list({}).map((m) => m.id)).toEqual([ids[4], ids[3], ids[2]]);
  });

  it('prunes messages older than maxAgeMs', async () => {
    let now = 1_000_000;
    await using store = openSinkStore({ path: tempDb(), maxAgeMs: 60_000, now: () => now });
    const old = store.add('Subject: old\r\n\r\nx\r\n', meta);
    now += 61_000;
    const fresh = store.add('Subject: new\r\n\r\nx\r\n', meta);
    expect(store.get(old)).toBeNull();
    expect(store.get(fresh)).not.toBeNull();
  });

  it('keeps messages across a restart, and new ones after it do not touch their bytes', async () => {
    const path = tempDb();
    const store = openSinkStore({ path });
    const id = store.add('Subject: persisted\r\n\r\nhello\r\n', meta);
    const empty = store.add('', meta);
    await store.idle();
    await store.close();
    await using again = openSinkStore({ path });
    expect(again.get(id)?.subject).toBe('persisted');
    const next = again.add('Subject: after\r\n\r\nlater\r\n', meta);
    expect((await again.readRaw(id)).toString()).toBe('Subject: persisted\r\n\r\nhello\r\n');
    expect((await again.readRaw(empty)).length).toBe(0);
    expect((await again.readRaw(next)).toString()).toBe('Subject: after\r\n\r\nlater\r\n');
  });

  it('keeps checkpointing the WAL into the database file while it stays open (off the event loop)', async () => {
    const path = tempDb();
    await using store = openSinkStore({ path, maxMessages: 0 });
    const body = `Subject: filler\r\n\r\n${'x'.repeat(100 * 1024)}\r\n`;
    for (let i = 0; i < 100; i++) store.add(body, meta);
    // The raw bytes go to segment files; the parse results (100 KB of search text each) go to
    // the WAL, and only a checkpoint copies them into the database file.
    await store.idle();
    const deadline = Date.now() + 30_000;
    while (statSync(path).size < 10 * 1024 * 1024 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(statSync(path).size).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('finds a message by the sequence number its id carries, and nothing for a forged id', async () => {
    await using store = openSinkStore({ path: tempDb(), maxMessages: 0 });
    const ids = [1, 2, 3].map((n) => store.add(`Subject: m${n}\r\n\r\nx\r\n`, meta));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(ids.map((id) => store.get(id)?.id)).toEqual(ids);
    // Same time and sequence digits, another random part: not the stored message.
    const forged = `${ids[1]!.slice(0, 21)}${ids[1]!.endsWith('a') ? 'b' : 'a'}`;
    expect(store.get(forged)).toBeNull();
    expect(store.delete([forged])).toBe(0);
    store.setRead([forged], true);
    expect(store.count().unread).toBe(3);
    expect((await store.readRaw(forged)).length).toBe(0);
  });

  it('keeps the unread count right through reads, deletes, pruning and a restart', async () => {
    const path = tempDb();
    const unreadRows = { sql: 'read = 0', params: [] };
    const store = openSinkStore({ path, maxMessages: 4 });
    const ids = [1, 2, 3, 4].map((n) => store.add(`Subject: m${n}\r\n\r\nx\r\n`, meta));
    store.setRead([ids[0]!, ids[1]!], true);
    store.setRead([ids[1]!], true); // already read: no change
    expect(store.count()).toEqual({ total: 4, unread: 2 });
    store.setRead([ids[1]!], false);
    store.delete([ids[3]!]);
    expect(store.count()).toEqual({ total: 3, unread: 2 });
    // Two more: the oldest (read) message is pruned.
    store.add('Subject: m5\r\n\r\nx\r\n', meta);
    store.add('Subject: m6\r\n\r\nx\r\n', meta);
    expect(store.get(ids[0]!)).toBeNull();
    expect(store.count()).toEqual({ total: 4, unread: 4 });
    expect(store.count().unread).toBe(store.count(unreadRows).total);
    await store.close();
    await using again = openSinkStore({ path, maxMessages: 4 });
    again.setRead([ids[2]!], true);
    expect(again.count()).toEqual({ total: 4, unread: 3 });
    again.deleteAll();
    expect(again.count()).toEqual({ total: 0, unread: 0 });
  });

  it('prunes every expired message by age, oldest first, however many expire at once', async () => {
    let now = 1_000_000;
    await using store = openSinkStore({ path: tempDb(), maxMessages: 0, maxAgeMs: 60_000, now: () => now });
    for (let i = 0; i < 150; i++) store.add(`Subject: old ${i}\r\n\r\nx\r\n`, meta);
    now += 30_000;
    const young = store.add('Subject: young\r\n\r\nx\r\n', meta);
    now += 31_000;
    store.pruneNow();
    expect(store.count()).toEqual({ total: 1, unread: 1 });
    expect(store.list({}).map((m) => m.id)).toEqual([young]);
  });

  it('discards the chunks of an aborted message', async () => {
    await using store = openSinkStore({ path: tempDb() });
    const writer = store.createWriter();
    writer.write(Buffer.alloc(2 * 1024 * 1024 + 5, 0x62));
    writer.abort();
    expect(store.count().total).toBe(0);
    expect(store.databaseSize()).toBeGreaterThan(0);
  });

  it('parses each message once into list fields: addresses, subject, snippet, attachment count', async () => {
    await using store = openSinkStore({ path: tempDb() });
    const id = store.add(
      [
        'From: "Alice Example" <alice@example.test>',
        'To: bob@example.test, Carol <carol@example.test>',
        'Subject: =?UTF-8?B?SMOpbGxv?=',
        'Message-ID: <abc@example.test>',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<p>Hello <b>Bob</b></p>',
        '',
      ].join('\r\n'),
      meta,
    );
    await store.idle();
    const message = store.get(id)!;
    expect(message.from).toEqual({ Name: 'Alice Example', Address: 'alice@example.test' });
    expect(message.to.map((a) => a.Address)).toEqual(['bob@example.test', 'carol@example.test']);
    expect(message.subject).toBe('Héllo');
    expect(message.messageId).toBe('abc@example.test');
    expect(message.snippet).toBe('Hello Bob');
    expect(message.cc).toBeNull();
  });

  it('finds words through the trigram index, past its prefix in long messages, and not in deleted ones', async () => {
    await using store = openSinkStore({ path: tempDb(), maxMessages: 0 });
    const { compileSearch, SEARCH_INDEXED } = await import('../src/index.ts');
    const short = store.add('Subject: short\r\n\r\nthe Quokka jumps\r\n', meta);
    const filler = 'lorem ipsum '.repeat(Math.ceil((2 * SEARCH_INDEXED) / 12));
    const long = store.add(`Subject: long\r\n\r\n${filler} zebracorn at the end\r\n`, meta);
    const gone = store.add('Subject: gone\r\n\r\nquokka too\r\n', meta);
    await store.idle();
    store.delete([gone]);
    const find = (query: string) => store.ids(compileSearch(query)!).sort();
    expect(find('quokka')).toEqual([short]);
    expect(find('QUOK')).toEqual([short]);
    expect(find('zebracorn')).toEqual([long]);
    expect(find('ipsum')).toEqual([long]);
    expect(find('qu')).toEqual([short]);
    expect(find('-quokka')).toEqual([long]);
    expect(find('"jumps zebra"')).toEqual([]);
  });

  it('lists 10,000 messages page by page and searches them quickly', async () => {
    await using store = openSinkStore({ path: tempDb(), maxMessages: 0 });
    for (let i = 0; i < 10_000; i++) {
      store.add(
        `From: s${i}@example.test\r\nTo: r@example.test\r\nSubject: message ${i}\r\n\r\nbody ${i}\r\n`,
        meta,
      );
    }
    await store.idle();
    const { compileSearch } = await import('../src/index.ts');
    const t0 = performance.now();
    const page = store.list({ start: 5000, limit: 50 });
    const found = store.list({ filter: compileSearch('subject:"message 9999"')! });
    const word = store.list({ filter: compileSearch('"body 9876"')! });
    const elapsed = performance.now() - t0;
    expect(page).toHaveLength(50);
    expect(found.map((m) => m.subject)).toEqual(['message 9999']);
    expect(word.map((m) => m.subject)).toEqual(['message 9876']);
    // Generous: a scan of 10,000 narrow rows with LIKE, and an FTS lookup, stay far below a
    // second even on a loaded box (the bench prints the real figures).
    expect(elapsed).toBeLessThan(2000);
  }, 180_000);
});
