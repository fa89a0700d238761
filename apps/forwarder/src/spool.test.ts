import { existsSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { openTempDir } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { HEAD_LIMIT, spool } from './spool.ts';

const chunks = (n: number, size: number) =>
  Readable.from(Array.from({ length: n }, (_, i) => Buffer.alloc(size, 97 + (i % 26))));

describe('spool', () => {
  it('keeps a small message in memory', async () => {
    await using dir = await openTempDir();
    using s = await spool(chunks(3, 10), { dir: dir.path });
    expect(s.size).toBe(30);
    expect(s.buffer?.toString()).toBe(`${'a'.repeat(10)}${'b'.repeat(10)}${'c'.repeat(10)}`);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('writes a large message to a file, readable many times, removed on dispose', async () => {
    await using dir = await openTempDir();
    const s = await spool(chunks(40, 64 * 1024), { dir: dir.path, memoryLimit: 1 });
    expect(s.buffer).toBeNull();
    expect(s.size).toBe(40 * 64 * 1024);
    expect(s.head.length).toBeGreaterThanOrEqual(HEAD_LIMIT);
    const first = await text(s.open());
    expect(first.length).toBe(s.size);
    expect(await text(s.open())).toBe(first);
    const [file] = readdirSync(dir.path);
    s.dispose();
    expect(existsSync(dir.join(String(file)))).toBe(false);
  });

  it('rejects with the stream error and leaves no file', async () => {
    await using dir = await openTempDir();
    async function* failing() {
      yield Buffer.alloc(400 * 1024);
      throw new Error('552 too big');
    }
    await expect(spool(failing(), { dir: dir.path, memoryLimit: 1 })).rejects.toThrow('552 too big');
    expect(readdirSync(dir.path)).toEqual([]);
  });
});
