import { describe, expect, it } from 'vitest';
import { foldField, formatDate, hasOverlongLine, toCrlf, wrapText } from './dsn-format.ts';

describe('formatDate', () => {
  it('writes an RFC 5322 date in UTC with a numeric zone', () => {
    expect(formatDate(new Date(Date.UTC(2026, 10, 29, 9, 5, 7)))).toBe('Sun, 29 Nov 2026 09:05:07 +0000');
  });
});

describe('foldField', () => {
  it('keeps a short field on one line', () => {
    expect(foldField('Status', '5.1.1')).toBe('Status: 5.1.1');
  });

  it('folds a long value at whitespace so no line passes 78 octets', () => {
    const value = `smtp; 550 5.1.1 ${'word '.repeat(60)}end`;
    const folded = foldField('Diagnostic-Code', value);
    const lines = folded.split('\r\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(78);
    for (const line of lines.slice(1)) expect(line.startsWith(' ')).toBe(true);
    expect(folded.replace(/\r\n/g, '')).toBe(`Diagnostic-Code: ${value}`);
  });

  it('cuts a single word longer than 998 octets so every line stays within 998', () => {
    const folded = foldField('Diagnostic-Code', `smtp; ${'é'.repeat(1500)}`);
    for (const line of folded.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    expect(folded).not.toContain('\uFFFD');
  });

  it('turns line breaks inside the value into spaces', () => {
    expect(foldField('Diagnostic-Code', 'smtp; 550 first\r\nsecond\rthird\nfourth')).toBe(
      'Diagnostic-Code: smtp; 550 first second third fourth',
    );
  });
});

describe('wrapText', () => {
  it('wraps at 76 columns and ends every line with CRLF', () => {
    const text = wrapText(`${'lorem ipsum '.repeat(20)}\nnext`);
    expect(text.endsWith('\r\n')).toBe(true);
    for (const line of text.split('\r\n').slice(0, -1)) expect(line.length).toBeLessThanOrEqual(76);
    expect(text).toContain('\r\nnext\r\n');
  });
});

describe('toCrlf', () => {
  it('rewrites bare CR and bare LF as CRLF and leaves CRLF alone', () => {
    expect(toCrlf(Buffer.from('a\rb\nc\r\nd')).toString()).toBe('a\r\nb\r\nc\r\nd');
  });

  it('keeps 8-bit octets unchanged', () => {
    const data = Buffer.from('Subject: Grüße\n', 'utf8');
    expect(toCrlf(data).toString('utf8')).toBe('Subject: Grüße\r\n');
  });
});

describe('hasOverlongLine', () => {
  it('finds a line over 998 octets and accepts one of exactly 998', () => {
    expect(hasOverlongLine(Buffer.from(`a\r\n${'x'.repeat(998)}\r\nb`))).toBe(false);
    expect(hasOverlongLine(Buffer.from(`a\r\n${'x'.repeat(999)}`))).toBe(true);
  });
});
