// DKIM conformance: RFC 8463 Appendix A (ed25519 + rsa), the RFC 6376 A.2 negative vector,
// dkimpy's ed25519 message and Stalwart's six signed messages, through verify().

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verify } from '../verify.ts';
import { loadStalwartMessages, readTestdata, testdata, txtResolver } from './suites.ts';

const rfc8463Keys = JSON.parse(readTestdata('dkim-rfc-examples/rfc8463-dns.json')) as Record<string, string>;
const rfc6376Keys = JSON.parse(readTestdata('dkim-rfc-examples/rfc6376-dns.json')) as Record<string, string>;
const options = (zone: Record<string, string>) => ({
  resolver: txtResolver(zone),
  authservId: 'mx.conformance.test',
});

describe('RFC 8463 Appendix A', () => {
  const message = readFileSync(testdata('dkim-rfc-examples/rfc8463-a3.eml'));

  it('passes both the ed25519-sha256 and the rsa-sha256 signature', async () => {
    const verdict = await verify(message, options(rfc8463Keys));
    expect(verdict.dkim.map((row) => [row.algorithm, row.result]).sort()).toEqual([
      ['ed25519-sha256', 'pass'],
      ['rsa-sha256', 'pass'],
    ]);
  });

  it('fails both signatures when the body changes ("hungry" -> "angry")', async () => {
    const changed = Buffer.from(message.toString('binary').replace('hungry', 'angry'), 'binary');
    expect(changed.equals(message)).toBe(false);
    const verdict = await verify(changed, options(rfc8463Keys));
    expect(verdict.dkim).toHaveLength(2);
    for (const row of verdict.dkim) expect(row.result).not.toBe('pass');
  });
});

describe('RFC 6376 Appendix A.2', () => {
  it('never passes (its bh= is the relaxed body hash under c=simple/simple)', async () => {
    const verdict = await verify(
      readFileSync(testdata('dkim-rfc-examples/rfc6376-a2.eml')),
      options(rfc6376Keys),
    );
    expect(verdict.dkim).toHaveLength(1);
    expect(verdict.dkim[0]?.result).not.toBe('pass');
  });
});

describe('dkimpy ed25519 message', () => {
  it('passes the ed25519-sha256 and the rsa-sha256 signature', async () => {
    const message = readTestdata('dkimpy-ed25519/rfc6376.signed.msg').replace(/\r?\n/g, '\r\n');
    const verdict = await verify(message, options(rfc8463Keys));
    expect(verdict.dkim.find((row) => row.algorithm === 'ed25519-sha256')?.result).toBe('pass');
    expect(verdict.dkim.every((row) => row.result === 'pass')).toBe(true);
  });
});

describe('Stalwart DKIM messages', () => {
  const cases = loadStalwartMessages('dkim');
  it('has six messages', () => expect(cases).toHaveLength(6));
  for (const test of cases) {
    it(`passes the last signature: ${test.name}`, async () => {
      const verdict = await verify(test.message, {
        resolver: test.resolver,
        authservId: 'mx.conformance.test',
        now: () => new Date(1667843664_000),
      });
      expect(verdict.dkim.at(-1)?.result).toBe('pass');
    });
  }
});
