import { describe, expect, it } from 'vitest';
import { createSrs, SrsFormatError, SrsHashError, SrsTimestampError } from './srs.ts';

const CLOCK = new Date('2020-01-01T00:01:00Z');
const srs = createSrs({ domain: 'example.com', secrets: ['tops3cr3t'], now: () => CLOCK });
const days = (n: number) => new Date(CLOCK.getTime() + n * 86_400_000);

describe('SRS forward', () => {
  it('rewrites a plain address to SRS0 (vector)', () => {
    expect(srs.forward('test@otherdomain.com')).toBe('SRS0=vmyz=2W=otherdomain.com=test@example.com');
  });

  it('rewrites an SRS0 address to SRS1 (vector)', () => {
    expect(srs.forward('SRS0=opaque+string@otherdomain.com')).toBe(
      'SRS1=chaI=otherdomain.com==opaque+string@example.com',
    );
  });

  it('keeps the first hop when forwarding an SRS1 address again', () => {
    const again = createSrs({ domain: 'third.example', secrets: ['other'], now: () => CLOCK });
    const once = srs.forward('SRS0=opaque+string@otherdomain.com');
    const twice = again.forward(once);
    expect(twice).toMatch(/^SRS1=[^=]{4}=otherdomain\.com==opaque\+string@third\.example$/);
    expect(again.reverse(twice)).toEqual({ ok: true, address: 'SRS0=opaque+string@otherdomain.com' });
  });

  it('leaves the null sender null', () => {
    expect(srs.forward(null)).toBeNull();
  });
});

describe('SRS reverse', () => {
  it('reverses SRS1 to the SRS0 address of the first hop (vector)', () => {
    expect(srs.reverse('SRS1=JIBX=thirddomain.com==opaque+string@example.com')).toEqual({
      ok: true,
      address: 'SRS0=opaque+string@thirddomain.com',
    });
  });

  it('reverses its own SRS0 address', () => {
    expect(srs.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com')).toEqual({
      ok: true,
      address: 'test@otherdomain.com',
    });
  });

  it('accepts all-lowercase and all-uppercase input', () => {
    expect(srs.reverse('srs0=vmyz=2w=otherdomain.com=test@example.com')).toEqual({
      ok: true,
      address: 'test@otherdomain.com',
    });
    expect(srs.reverse('SRS0=VMYZ=2W=OTHERDOMAIN.COM=TEST@EXAMPLE.COM')).toEqual({
      ok: true,
      address: 'TEST@OTHERDOMAIN.COM',
    });
    expect(srs.reverse('SRS1=JIBX=THIRDDOMAIN.COM==OPAQUE+STRING@EXAMPLE.COM').ok).toBe(true);
  });

  it('rejects a bad hash as SrsHashError', () => {
    const result = srs.reverse('SRS0=FAKE=2W=otherdomain.com=test@example.com');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(SrsHashError);
      expect(result.error.code).toBe('EBADHASH');
      expect(result.error.smtpError.code).toBe(550);
    }
  });

  it('rejects a timestamp older than the maximum age as stale', () => {
    const later = createSrs({ domain: 'example.com', secrets: ['tops3cr3t'], now: () => days(22) });
    const result = later.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(SrsTimestampError);
      expect(result.error.code).toBe('ESTALE');
    }
    const within = createSrs({ domain: 'example.com', secrets: ['tops3cr3t'], now: () => days(21) });
    expect(within.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com').ok).toBe(true);
  });

  it('rejects a timestamp from the future as EFUTURE, distinct from stale', () => {
    const earlier = createSrs({ domain: 'example.com', secrets: ['tops3cr3t'], now: () => days(-3) });
    const result = earlier.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(SrsTimestampError);
      expect(result.error.code).toBe('EFUTURE');
    }
  });

  it('verifies with every secret but signs with the first (rotation)', () => {
    const rotated = createSrs({ domain: 'example.com', secrets: ['n3w', 'tops3cr3t'], now: () => CLOCK });
    expect(rotated.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com').ok).toBe(true);
    expect(rotated.forward('test@otherdomain.com')).not.toBe('SRS0=vmyz=2W=otherdomain.com=test@example.com');
    const retired = createSrs({ domain: 'example.com', secrets: ['n3w'], now: () => CLOCK });
    expect(retired.reverse('SRS0=vmyz=2W=otherdomain.com=test@example.com').ok).toBe(false);
  });

  it('reports an address that is not SRS, and a truncated one, as format errors', () => {
    const plain = srs.reverse('someone@example.com');
    const truncated = srs.reverse('SRS0=vmyz=2W@example.com');
    expect(!plain.ok && plain.error instanceof SrsFormatError && plain.error.code).toBe('ENOTSRS');
    expect(!truncated.ok && truncated.error instanceof SrsFormatError && truncated.error.code).toBe(
      'EBADFORMAT',
    );
  });
});
