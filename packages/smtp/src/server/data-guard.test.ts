import { describe, expect, it } from 'vitest';
import { createDataGuard, type DataGuardOptions, hasBareLineEnding } from './data-guard.ts';

function run(chunks: string[], options: Partial<DataGuardOptions> = {}) {
  const guard = createDataGuard({ maxSize: 0, bareLineEndings: 'reject', ...options });
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    const bytes = guard.push(Buffer.from(chunk, 'latin1'));
    if (bytes) out.push(bytes);
  }
  const tail = guard.end();
  if (tail) out.push(tail);
  return { guard, text: Buffer.concat(out).toString('latin1') };
}

describe('createDataGuard', () => {
  it('passes CRLF text through unchanged', () => {
    const { guard, text } = run(['Subject: a\r\n\r\nbody\r\n']);
    expect(guard.violation).toBeNull();
    expect(text).toBe('Subject: a\r\n\r\nbody\r\n');
  });

  it('accepts a CRLF split between two chunks', () => {
    const { guard } = run(['line one\r', '\nline two\r\n']);
    expect(guard.violation).toBeNull();
  });

  it.each([
    ['a bare LF', ['a\nb\r\n']],
    ['a bare CR', ['a\rb\r\n']],
    ['a bare LF at the start of a chunk', ['a', '\nb\r\n']],
    ['a CR ending a chunk without LF after it', ['a\r', 'b\r\n']],
    ['a lone CR at the very end', ['a\r']],
  ])('refuses %s with 550 5.6.0', (_name, chunks) => {
    const { guard } = run(chunks);
    expect(guard.violation?.code).toBe(550);
    expect(guard.violation?.enhanced).toBe('5.6.0');
  });

  it('normalises bare CR and bare LF to CRLF when asked', () => {
    const { guard, text } = run(['a\nb\rc\r', 'd\r', '\ne\r\n'], { bareLineEndings: 'normalize' });
    expect(guard.violation).toBeNull();
    expect(text).toBe('a\r\nb\r\nc\r\nd\r\ne\r\n');
  });

  it('refuses a message over the size limit with 552 5.3.4 and keeps counting without output', () => {
    const guard = createDataGuard({ maxSize: 10, bareLineEndings: 'reject' });
    expect(guard.push(Buffer.from('12345678\r\n'))).not.toBeNull();
    expect(guard.push(Buffer.from('x'))).toBeNull();
    expect(guard.push(Buffer.from('more\r\n'))).toBeNull();
    expect(guard.end()).toBeNull();
    expect(guard.violation?.code).toBe(552);
    expect(guard.violation?.enhanced).toBe('5.3.4');
    expect(guard.received).toBe(17);
  });
});

describe('hasBareLineEnding', () => {
  /** The definition, one byte at a time: what the fast scan must agree with. */
  function reference(chunks: string[]): boolean {
    const text = chunks.join('');
    // A CR at the very end is decided by what follows: here, nothing, and run() calls end().
    return /\r(?!\n)|(?<!\r)\n/.test(text.endsWith('\r') ? text.slice(0, -1) : text);
  }

  function scan(chunks: string[]): boolean {
    let previousWasCr = false;
    for (const chunk of chunks) {
      const bytes = Buffer.from(chunk, 'latin1');
      if (hasBareLineEnding(bytes, previousWasCr)) return true;
      if (bytes.length > 0) previousWasCr = bytes[bytes.length - 1] === 0x0d;
    }
    return false;
  }

  it('agrees with the byte-by-byte definition on generated chunk sequences', () => {
    // A fixed-seed generator: the same 5000 cases every run.
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['a', 'a', 'a', '\r\n', '\r\n', '\r', '\n', '.'];
    let bare = 0;
    for (let n = 0; n < 5000; n++) {
      let text = '';
      const length = Math.floor(next() * 12);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
      const chunks: string[] = [];
      let rest = text;
      while (rest.length > 0) {
        const cut = 1 + Math.floor(next() * rest.length);
        chunks.push(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
      const expected = reference(chunks);
      if (expected) bare++;
      expect(scan(chunks), JSON.stringify(chunks)).toBe(expected);
    }
    // Both outcomes were exercised.
    expect(bare).toBeGreaterThan(500);
    expect(bare).toBeLessThan(4500);
  });

  it('agrees with the definition on long lines, at every alignment of the chunk in memory', () => {
    // The scan reads four octets at a time from 4-aligned addresses: lines longer than a word,
    // chunks starting at every offset of their buffer, and octets below 14 that are not CR or LF.
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['abcdefg', 'x', '\t', '\x00', '\xe9', '\r\n', '\r\n', '\r', '\n'];
    let bare = 0;
    for (let n = 0; n < 3000; n++) {
      let text = '';
      const pieces = Math.floor(next() * 40);
      for (let i = 0; i < pieces; i++) {
        // Mostly clean text, so that a long run holds at most one bare ending, at any position.
        const piece = alphabet[Math.floor(next() * alphabet.length)] as string;
        text += piece === '\r' || piece === '\n' ? (next() < 0.1 ? piece : '\r\n') : piece;
      }
      const expected = reference([text]);
      if (expected) bare++;
      const shift = Math.floor(next() * 8);
      const bytes = Buffer.alloc(shift + text.length);
      bytes.write(text, shift, 'latin1');
      expect(hasBareLineEnding(bytes.subarray(shift), false), JSON.stringify(text)).toBe(expected);
    }
    expect(bare).toBeGreaterThan(300);
    expect(bare).toBeLessThan(2700);
  });
});
