import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseHeaderFields } from '../header-fields.ts';
import { readMessageHead } from './message-head.ts';

function streamOf(...chunks: string[]): Readable {
  return Readable.from(
    chunks.map((chunk) => Buffer.from(chunk)),
    { objectMode: false },
  );
}

describe('readMessageHead', () => {
  it('stops at the blank line, even when it spans chunks, and gives the rest back to the stream', async () => {
    const stream = streamOf('Subject: a\r', '\n\r', '\nbody line\r\n', 'more\r\n');
    const head = await readMessageHead(stream, 1024);
    expect(head.bytes.subarray(0, head.headerLength).toString()).toBe('Subject: a');
    // What was buffered with the blank line comes along; the rest stays in the stream.
    expect(head.bytes.toString()).toMatch(/^Subject: a\r\n\r\n/);
    expect(head.bytes.toString()).not.toContain('more');
    stream.unshift(head.bytes);
    let rest = '';
    for await (const chunk of stream) rest += String(chunk);
    expect(rest).toBe('Subject: a\r\n\r\nbody line\r\nmore\r\n');
  });

  it('stops at the limit when the header does not end', async () => {
    const head = await readMessageHead(streamOf('X: 1\r\n', 'Y: 2\r\n', 'Z: 3\r\n'), 8);
    expect(head.bytes.toString()).toBe('X: 1\r\nY: 2\r\n');
    expect(parseHeaderFields(head.bytes)).toEqual([
      { name: 'X', value: '1' },
      { name: 'Y', value: '2' },
    ]);
  });

  it("rejects with the stream's error", async () => {
    const stream = new Readable({ read() {} });
    const reading = readMessageHead(stream, 1024);
    stream.destroy(new Error('552'));
    await expect(reading).rejects.toThrow('552');
  });
});

describe('the head read for checks', () => {
  it('parses into unfolded fields, skipping lines that are not fields', async () => {
    const head = await readMessageHead(
      streamOf('Subject: one\r\n two\r\nnot a field\r\nTo:\tbob@example.com\r\n\r\nbody'),
      1024,
    );
    expect(parseHeaderFields(head.bytes)).toEqual([
      { name: 'Subject', value: 'one two' },
      { name: 'To', value: 'bob@example.com' },
    ]);
  });
});
