import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeData, measureMessage } from './data-encoder.ts';

const text = async (input: string | (() => Readable)) => (await encodeData(input)).toString('latin1');

describe('DataEncoder', () => {
  it('ends the data with CRLF.CRLF', async () => {
    expect(await text('Subject: x\r\n\r\nbody\r\n')).toBe('Subject: x\r\n\r\nbody\r\n.\r\n');
  });

  it('adds the missing final line ending before the terminator', async () => {
    expect(await text('Subject: x\r\n\r\nbody')).toBe('Subject: x\r\n\r\nbody\r\n.\r\n');
  });

  it('doubles a dot at the start of a line', async () => {
    expect(await text('.a\r\nb.\r\n.\r\n..\r\n')).toBe('..a\r\nb.\r\n..\r\n...\r\n.\r\n');
  });

  it('turns bare LF and bare CR into CRLF', async () => {
    expect(await text('a\nb\rc\r\n\r\rd')).toBe('a\r\nb\r\nc\r\n\r\n\r\nd\r\n.\r\n');
  });

  it('dot-stuffs a line that follows a bare LF', async () => {
    expect(await text('a\n.\nb')).toBe('a\r\n..\r\nb\r\n.\r\n');
  });

  it('drops NUL octets so no server can read CRLF NUL . CRLF as the end of data', async () => {
    expect(await text('a\r\n\u0000.\r\nb')).toBe('a\r\n..\r\nb\r\n.\r\n');
  });

  it('keeps state across chunk boundaries', async () => {
    const chunks = ['a\r', '\n', '.', 'b\r', 'c\n', '.'];
    expect(await text(() => Readable.from(chunks.map((c) => Buffer.from(c))))).toBe(
      'a\r\n..b\r\nc\r\n..\r\n.\r\n',
    );
  });

  it('encodes an empty message as the terminator alone', async () => {
    expect(await text('')).toBe('.\r\n');
  });

  it('measures the size with CRLF line endings and without dot-stuffing', async () => {
    expect(await measureMessage('a\n.b\n')).toBe('a\r\n.b\r\n'.length);
    expect(await measureMessage(Buffer.from('abc'))).toBe(5);
  });
});
