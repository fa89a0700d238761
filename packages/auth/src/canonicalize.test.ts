import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BodyHasher, type Canon, canonicalizeHeader } from './canonicalize.ts';
import { testdata } from './conformance/suites.ts';

function bodyHash(canon: Canon, ...chunks: string[]): string {
  const hasher = new BodyHasher(canon);
  for (const chunk of chunks) hasher.update(Buffer.from(chunk, 'latin1'));
  return hasher.digest();
}

describe('BodyHasher', () => {
  it('hashes an empty body as CRLF (simple) and as nothing (relaxed)', () => {
    expect(bodyHash('simple')).toBe('frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=');
    expect(bodyHash('relaxed')).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
    expect(bodyHash('relaxed', '\r\n\r\n \r\n')).toBe('47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });

  it('hashes the RFC 6376 A.2 body as computed independently (§3.4.3, §3.4.4)', () => {
    const eml = readFileSync(testdata('dkim-rfc-examples/rfc6376-a2.eml'), 'latin1');
    const body = eml.slice(eml.indexOf('\r\n\r\n') + 4);
    // sha256 of the body with its one trailing empty line removed (§3.4.3), computed independently.
    expect(bodyHash('simple', body)).toBe('Yk8NM4CJ1JLadnncrCRrIkh2byPjwQ8499aK8Cgoh4A=');
    // sha256 of 'Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n' (one space, no trailing empty line).
    expect(bodyHash('relaxed', body)).toBe('aB3JHhL6YfMiNbWX8XRnLJvbWmh93GDFE5RlKDnCXMM=');
  });

  it('gives the same hash however the body is split into chunks', () => {
    const body = 'a  b\t \r\n\r\nline\twith  tabs \r\n \r\n\r\nlast';
    for (const canon of ['simple', 'relaxed'] as const) {
      const whole = bodyHash(canon, body);
      for (let i = 0; i <= body.length; i++)
        expect(bodyHash(canon, body.slice(0, i), body.slice(i))).toBe(whole);
    }
  });

  it('treats bare LF like CRLF', () => {
    expect(bodyHash('relaxed', 'a \nb\n\n')).toBe(bodyHash('relaxed', 'a\r\nb\r\n'));
    expect(bodyHash('simple', 'a\nb\n')).toBe(bodyHash('simple', 'a\r\nb\r\n'));
  });
});

describe('canonicalizeHeader', () => {
  it('lower-cases the name, unfolds and compresses whitespace (relaxed)', () => {
    expect(canonicalizeHeader('SubJect :  Hello \r\n\t  World  ', 'relaxed')).toBe('subject:Hello World\r\n');
  });

  it('keeps the field as it is (simple)', () => {
    expect(canonicalizeHeader('SubJect: Hello\r\n World', 'simple')).toBe('SubJect: Hello\r\n World\r\n');
  });
});
