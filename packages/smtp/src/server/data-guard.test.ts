import { describe, expect, it } from 'vitest';
import { createDataGuard, type DataGuardOptions } from './data-guard.ts';

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
