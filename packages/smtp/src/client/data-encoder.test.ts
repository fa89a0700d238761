import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DataEncoder, encodeData, encodeStream, measureMessage } from './data-encoder.ts';

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

  it('hands on a chunk that needs no change as the same buffer, without a copy', async () => {
    const chunk = Buffer.from('Subject: x\r\n\r\nbody. more\r\n');
    const encoder = new DataEncoder();
    const out: Buffer[] = [];
    encoder.on('data', (c: Buffer) => out.push(c));
    encoder.end(chunk);
    await new Promise((resolve) => encoder.once('end', resolve));
    expect(out[0]).toBe(chunk);
    expect(Buffer.concat(out).toString()).toBe(`${chunk}.\r\n`);
  });

  it('encodes as the octet-by-octet rules say, however the message is cut into chunks', async () => {
    // The rules of the module comment, one octet at a time, on a string model.
    const reference = (input: string): string => {
      let out = '';
      let atLineStart = true;
      // Line ends are decided on the octets as sent (CR NUL LF is two of them), then NULs go.
      const lines = input.replace(/\r\n|\r|\n/g, '\n').replace(/\u0000/g, '');
      for (const ch of lines) {
        if (ch === '\n') {
          out += '\r\n';
          atLineStart = true;
          continue;
        }
        if (atLineStart && ch === '.') out += '.';
        out += ch;
        atLineStart = false;
      }
      return `${out}${atLineStart ? '' : '\r\n'}.\r\n`;
    };
    const alphabet = ['a', '.', '\r', '\n', '\u0000', ' ', '\r\n', '\r\n.'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 2000; round++) {
      let input = '';
      for (let i = random(40); i > 0; i--) input += alphabet[random(alphabet.length)];
      const bytes = Buffer.from(input, 'latin1');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const next = at + 1 + random(6);
        chunks.push(bytes.subarray(at, next));
        at = next;
      }
      expect(await text(() => Readable.from(chunks))).toBe(reference(input));
    }
  });
});

describe('encodeStream', () => {
  it('ends the encoded stream with the error of its source', async () => {
    const failing = () =>
      new Readable({
        read() {
          this.push(Buffer.from('Subject: x\r\n\r\nfirst line\r\n'));
          this.destroy(new Error('disk read failed'));
        },
      });
    await expect(encodeData(failing)).rejects.toThrow('disk read failed');
  });

  it('stops reading its source when the encoded stream is destroyed', async () => {
    let source: Readable | undefined;
    const endless = () => {
      source = new Readable({
        read() {
          setImmediate(() => this.push(Buffer.from('line\r\n')));
        },
      });
      return source;
    };
    const encoded = encodeStream(endless);
    await new Promise((resolve) => encoded.once('data', resolve));
    encoded.pause();
    encoded.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source?.destroyed).toBe(true);
  });
});
