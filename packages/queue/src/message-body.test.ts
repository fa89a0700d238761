import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { expect, it } from 'vitest';
import { CHUNK_BYTES, readBody } from './message-body.ts';

it('keeps a small message as one tail chunk and stages nothing', async () => {
  const staged: number[] = [];
  const body = await readBody('hello', 100, async (seq) => void staged.push(seq));
  expect(staged).toEqual([]);
  expect(body).toMatchObject({ size: 5, chunks: 1, tail: { seq: 0 } });
  expect(Buffer.concat(body.tail?.parts ?? []).toString()).toBe('hello');
});

it('stages every full chunk of a stream as it arrives and commits the rest', async () => {
  const staged: number[] = [];
  const pieces = Array.from({ length: 5 }, () => Buffer.alloc(CHUNK_BYTES / 2 + 1, 'a'));
  const body = await readBody(Readable.from(pieces), 10 * CHUNK_BYTES, async (seq, parts) => {
    expect(Buffer.concat(parts).byteLength).toBe(CHUNK_BYTES);
    staged.push(seq);
  });
  expect(staged).toEqual([0, 1]);
  expect(body.chunks).toBe(3);
  expect(Buffer.concat(body.tail?.parts ?? []).byteLength).toBe(5 * (CHUNK_BYTES / 2 + 1) - 2 * CHUNK_BYTES);
});

it('stops reading past the limit with 552 5.3.4', async () => {
  await expect(readBody(Buffer.alloc(11), 10, async () => {})).rejects.toMatchObject({
    code: 552,
    enhanced: '5.3.4',
  });
});

it('keeps the pieces as they arrived, not copied together', async () => {
  const pieces = [Buffer.from('hel'), Buffer.from('lo')];
  const body = await readBody(Readable.from(pieces), 100, async () => {});
  expect(body.tail?.parts).toHaveLength(2);
  expect(body.tail?.parts[0]?.buffer).toBe(pieces[0]?.buffer);
  expect(body.sha256).toBe(createHash('sha256').update('hello').digest('hex'));
});
