import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeExtents, type Extent, encodeExtents, RawSegments } from '../src/raw-segments.ts';
import { openSinkStore } from '../src/store.ts';

const tempDir = () => mkdtempSync(join(tmpdir(), 'mailyard-segments-'));
const meta = { mailFrom: 'a@example.test', rcptTo: ['b@example.test'] };

async function read(segments: RawSegments, extents: readonly Extent[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of segments.open(extents)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('RawSegments', () => {
  it('writes a batch of messages in one append and reads each back exactly', async () => {
    const segments = new RawSegments(tempDir(), []);
    const a = [Buffer.from('first '), Buffer.from('message')];
    const b = [Buffer.alloc(3 * 1024 * 1024 + 7, 0x41)];
    const [ea, eb, empty] = segments.append([a, b, []]);
    expect(empty).toBeNull();
    expect((await read(segments, [ea!])).toString()).toBe('first message');
    expect((await read(segments, [eb!])).equals(b[0]!)).toBe(true);
    // A message written in pieces as it streamed in is its extents in order.
    const [p1] = segments.append([[Buffer.from('one,')]]);
    segments.append([[Buffer.from('someone else')]]);
    const [p2] = segments.append([[Buffer.from('two')]]);
    expect((await read(segments, [p1!, p2!])).toString()).toBe('one,two');
    segments.close();
  });

  it('keeps extents as text and reads them back', () => {
    const extents = [
      { segment: 3, offset: 0, length: 10 },
      { segment: 4, offset: 1 << 30, length: 1 },
    ];
    expect(decodeExtents(encodeExtents(extents))).toEqual(extents);
    expect(decodeExtents(encodeExtents([]))).toEqual([]);
  });

  it('deletes a segment no longer written to once nothing refers to it, and never the current one', () => {
    const dir = tempDir();
    const segments = new RawSegments(dir, [], { segmentBytes: 1000 });
    const [first] = segments.append([[Buffer.alloc(600)]]);
    const [second] = segments.append([[Buffer.alloc(600)]]); // crosses 1000: the next goes to a new segment
    const [third] = segments.append([[Buffer.alloc(10)]]);
    expect(first!.segment).toBe(second!.segment);
    expect(third!.segment).toBe(first!.segment + 1);
    expect(readdirSync(dir).sort()).toEqual([`${first!.segment}.seg`, `${third!.segment}.seg`].sort());
    segments.release([first!]);
    expect(readdirSync(dir)).toContain(`${first!.segment}.seg`);
    segments.release([second!]);
    expect(readdirSync(dir)).toEqual([`${third!.segment}.seg`]);
    segments.release([third!]);
    expect(readdirSync(dir)).toEqual([`${third!.segment}.seg`]);
    segments.close();
  });

  it('on opening, deletes the segments no stored message refers to and writes to a new one', async () => {
    const dir = tempDir();
    const before = new RawSegments(dir, [], { segmentBytes: 100 });
    const [kept] = before.append([[Buffer.from('x'.repeat(150))]]);
    const [lost] = before.append([[Buffer.from('bytes of a message never committed')]]);
    before.close();
    const after = new RawSegments(dir, [kept!]);
    expect(readdirSync(dir).sort()).toEqual([`${kept!.segment}.seg`, `${lost!.segment + 1}.seg`].sort());
    expect((await read(after, [kept!])).toString()).toBe('x'.repeat(150));
    const [next] = after.append([[Buffer.from('new')]]);
    expect(next!.segment).toBe(lost!.segment + 1);
    after.close();
  });

  it('reads a message whose pieces went to two segments, and frees both once it is gone', async () => {
    const dir = tempDir();
    const segments = new RawSegments(dir, [], { segmentBytes: 100 });
    const [one] = segments.append([[Buffer.alloc(150, 0x31)]]); // past 100: the next piece rolls over
    const [two] = segments.append([[Buffer.alloc(30, 0x32)]]);
    expect(two!.segment).toBe(one!.segment + 1);
    const joined = await read(segments, [one!, two!]);
    expect(joined.equals(Buffer.concat([Buffer.alloc(150, 0x31), Buffer.alloc(30, 0x32)]))).toBe(true);
    const [other] = segments.append([[Buffer.alloc(100)]]); // the second fills up: a third is current
    segments.release([one!, two!]);
    // The second still holds the other message; the first held only this one.
    expect(readdirSync(dir).sort()).toEqual([`${one!.segment + 1}.seg`, `${one!.segment + 2}.seg`]);
    segments.release([other!]);
    expect(readdirSync(dir)).toEqual([`${one!.segment + 2}.seg`]);
    segments.close();
  });

  it('goes on writing to the current segment while a new one cannot be made', async () => {
    const dir = tempDir();
    const segments = new RawSegments(dir, [], { segmentBytes: 100 });
    const [first] = segments.append([[Buffer.alloc(10)]]);
    // The next segment's name is taken by a directory: opening it fails (EISDIR), as on a full disk.
    mkdirSync(join(dir, `${first!.segment + 1}.seg`));
    const [big] = segments.append([[Buffer.alloc(200, 0x61)]]);
    const [small] = segments.append([[Buffer.from('still here')]]);
    expect(small!.segment).toBe(first!.segment);
    expect((await read(segments, [big!])).equals(Buffer.alloc(200, 0x61))).toBe(true);
    rmdirSync(join(dir, `${first!.segment + 1}.seg`));
    segments.append([[Buffer.from('rolls now')]]);
    const [next] = segments.append([[Buffer.from('in the next one')]]);
    expect(next!.segment).toBe(first!.segment + 1);
    expect((await read(segments, [small!, next!])).toString()).toBe('still herein the next one');
    segments.close();
  });

  it('reads a message whose segment is gone as empty', async () => {
    const dir = tempDir();
    const segments = new RawSegments(dir, [], { segmentBytes: 10 });
    const [gone] = segments.append([[Buffer.from('will be deleted')]]);
    segments.release([gone!]);
    expect(readdirSync(dir)).not.toContain(`${gone!.segment}.seg`);
    expect((await read(segments, [gone!])).length).toBe(0);
    segments.close();
  });
});

describe('SinkStore raw bytes', () => {
  it('are kept out of the database, and an aborted message leaves nothing after a restart', async () => {
    const dir = tempDir();
    const path = join(dir, 'sink.db');
    const store = openSinkStore({ path });
    const writer = store.createWriter();
    writer.write(Buffer.alloc(2 * 1024 * 1024 + 5, 0x62)); // written to a segment as it arrives
    writer.abort();
    await store.close();
    const again = openSinkStore({ path });
    // In a header field the parser does not index: only the raw bytes carry it.
    const marker = 'marker-of-the-raw-bytes-'.repeat(50);
    const message = `Subject: kept\r\nX-Marker: ${marker}\r\n\r\nbody\r\n`;
    const id = again.add(message, meta);
    expect((await again.readRaw(id)).toString()).toBe(message);
    await again.idle();
    await again.close();
    // The aborted bytes' segment was referred to by nothing: only the kept message's bytes remain.
    const segments = `${path}-raw`;
    const held = readdirSync(segments).reduce(
      (sum, name) => sum + readFileSync(join(segments, name)).length,
      0,
    );
    expect(held).toBe(Buffer.byteLength(message));
    for (const name of readdirSync(dir).filter((n) => n.startsWith('sink.db') && !n.endsWith('-raw'))) {
      expect(readFileSync(join(dir, name)).includes(Buffer.from(marker))).toBe(false);
    }
  });

  it('frees the segments of deleted messages once they are full', async () => {
    const dir = tempDir();
    const path = join(dir, 'sink.db');
    await using store = openSinkStore({ path, maxMessages: 2 });
    const big = `Subject: big\r\n\r\n${'y'.repeat(3 * 1024 * 1024)}\r\n`;
    for (let i = 0; i < 30; i++) store.add(big, meta); // ~90 MB through a 64 MiB segment
    expect(store.count().total).toBe(2);
    const files = readdirSync(`${path}-raw`);
    // The first segment filled up and every message in it was pruned: it is gone.
    expect(files).not.toContain('1.seg');
    expect(files.length).toBeLessThanOrEqual(2);
  });
});
