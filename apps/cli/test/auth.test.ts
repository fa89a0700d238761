import { dkimDnsRecord, generateDkimKey, signDkim } from '@mailyard/auth';
import { startDns } from '@mailyard/testkit';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { captureIo } from './capture-io.ts';

const key = generateDkimKey({ type: 'ed25519' });
const record = dkimDnsRecord({ domain: 'example.org', selector: 's1', key: key.privateKey });
const ZONE = {
  'example.org': { TXT: ['v=spf1 ip4:192.0.2.10 -all'] },
  [record.name]: { TXT: [record.value] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
};
const MESSAGE = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: cli\r\n\r\nHello\r\n';

describe('mailyard auth verify', () => {
  it('prints the Authentication-Results header field, resolving through --dns-server', async () => {
    await using dns = await startDns(ZONE);
    const signed =
      (await signDkim(MESSAGE, { domain: 'example.org', selector: 's1', privateKey: key.privateKey })) +
      MESSAGE;
    const t = captureIo({ stdin: signed });
    const argv = [
      'auth',
      'verify',
      '--dns-server',
      dns.address,
      '--client-ip',
      '192.0.2.10',
      '--helo',
      'mail.example.org',
    ];
    expect(await main([...argv, '--mail-from', 'alice@example.org', '--authserv-id', 'mx.test'], t.io)).toBe(
      0,
    );
    const out = t.stdout().replace(/\r\n[ \t]+/g, ' ');
    expect(out).toMatch(/^Authentication-Results: mx\.test; /);
    expect(out).toMatch(/dkim=pass/);
    expect(out).toMatch(/spf=pass/);
    expect(out).toMatch(/dmarc=pass/);
  });

  it('prints the verdict as JSON with --json and exits 0 on a failing verdict', async () => {
    await using dns = await startDns(ZONE);
    const t = captureIo({ stdin: MESSAGE });
    const argv = [
      'auth',
      'verify',
      '--json',
      '--dns-server',
      dns.address,
      '--client-ip',
      '203.0.113.5',
      '--mail-from',
      '<alice@example.org>',
    ];
    expect(await main([...argv, '--authserv-id', 'mx.test'], t.io)).toBe(0);
    const verdict = JSON.parse(t.stdout());
    expect(verdict.spf.result).toBe('fail');
    expect(verdict.dmarc).toMatchObject({ result: 'fail', policy: 'reject' });
    expect(verdict.authservId).toBe('mx.test');
  });

  it('reports a DNS server that answers SERVFAIL as temperror', async () => {
    await using dns = await startDns({ 'example.org': { failure: 'SERVFAIL' } });
    const t = captureIo({ stdin: MESSAGE });
    const argv = [
      'auth',
      'verify',
      '--json',
      '--dns-server',
      dns.address,
      '--client-ip',
      '192.0.2.10',
      '--mail-from',
      'alice@example.org',
    ];
    expect(await main([...argv, '--authserv-id', 'mx.test'], t.io)).toBe(0);
    expect(JSON.parse(t.stdout()).spf.result).toBe('temperror');
  });

  it('exits 2 for usage errors: bad --client-ip, bad --mail-from, unknown subcommand or option', async () => {
    expect(await main(['auth', 'verify', '--client-ip', 'nope'], captureIo({ stdin: MESSAGE }).io)).toBe(2);
    expect(
      await main(['auth', 'verify', '--mail-from', 'not an address'], captureIo({ stdin: MESSAGE }).io),
    ).toBe(2);
    expect(await main(['auth', 'check'], captureIo().io)).toBe(2);
    expect(await main(['auth', 'verify', '--nope'], captureIo().io)).toBe(2);
  });
});
