import { describe, expect, it } from 'vitest';
import { parseHeaderFields } from './header-fields.ts';

describe('parseHeaderFields', () => {
  it('unfolds fields up to the blank line and never reads the body', () => {
    const message = Buffer.from('Subject: one\r\n two\r\nFrom:  Ann <a@x.test>\r\n\r\nBody: not a field\r\n');
    expect(parseHeaderFields(message)).toEqual([
      { name: 'Subject', value: 'one two' },
      { name: 'From', value: 'Ann <a@x.test>' },
    ]);
  });

  it('keeps only complete lines of a header cut short, and reads UTF-8 values', () => {
    const message = Buffer.from('Subject: caf\u00e9\r\nX-Cut: half');
    expect(parseHeaderFields(message)).toEqual([{ name: 'Subject', value: 'caf\u00e9' }]);
  });

  it('finds nothing in a message that starts with its blank line', () => {
    expect(parseHeaderFields(Buffer.from('\r\nSubject: body\r\n'))).toEqual([]);
  });
});
