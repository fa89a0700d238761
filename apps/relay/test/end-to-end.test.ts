// Proof, end to end on loopback with real parts only: nodemailer and swaks submit with AUTH over
// STARTTLS; the relay finds the recipient's MX through a loopback DNS server (`dns.servers`) and
// delivers to an SMTP peer on port 25 of 127.0.0.2; the DKIM signatures it added verify with an
// independent implementation, Debian's python3-dkim (dkimpy).

import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { dkimDnsRecord } from '@mailyard/auth';
import {
  type DnsServer,
  dkimpyAvailable,
  dkimpyVerify,
  type SmtpPeer,
  startDns,
  startPeer,
} from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DKIM_KEYS, PASSWORD, startTestRelay, type TestRelay, testMessage } from './helpers.ts';

const execFileAsync = promisify(execFile);
const dkimpy = dkimpyAvailable();
const swaks = spawnSync('swaks', ['--version'], { encoding: 'utf8' }).status === 0;
const ci = process.env.CI === 'true';

/** Our DKIM public keys as the receiver would find them in DNS. */
const DKIM_RECORDS = Object.fromEntries(
  (['ed', 'rsa'] as const).map((selector) => [
    `${selector}._domainkey.example.org`,
    dkimDnsRecord({ domain: 'example.org', selector, key: DKIM_KEYS[selector].privateKey }).value,
  ]),
);

describe('submission to MX delivery on loopback', () => {
  let dns: DnsServer;
  let peer: SmtpPeer;
  let relay: TestRelay;
  beforeAll(async () => {
    dns = await startDns({
      'example.net': { MX: [{ priority: 10, exchange: 'mx.example.net' }] },
      'mx.example.net': { A: ['127.0.0.2'] },
    });
    // Port 25 of another loopback address: the relay uses the real SMTP port of an MX.
    peer = await startPeer({ host: '127.0.0.2', port: 25, name: 'mx.example.net' });
    relay = await startTestRelay({ dns: { servers: [dns.address] } });
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
    await peer?.close();
    await dns?.close();
  });

  it('delivers a message submitted by nodemailer with AUTH over STARTTLS to the MX found in DNS', async () => {
    const info = await createTransport({
      host: '127.0.0.1',
      port: relay.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice', pass: PASSWORD },
    }).sendMail({
      envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
      raw: testMessage('nodemailer e2e'),
    });
    expect(info.response).toMatch(/^250 .*queued as/);
    await peer.waitForTransactions(1, 30_000);
    const transaction = peer.transactions.find((t) => t.content?.toString().includes('nodemailer e2e'));
    expect(transaction?.mailFrom).toMatch(/<alice@example\.org>/);
    expect(transaction?.accepted).toEqual([expect.stringMatching(/<bob@example\.net>/)]);
    expect(dns.queries.some((q) => q.name === 'example.net' && q.type === 'MX')).toBe(true);
  });

  it.skipIf(!dkimpy && !ci)(
    `adds DKIM signatures (ed25519 and rsa) that python3-dkim verifies${dkimpy ? '' : ' (skipped: python3-dkim missing)'}`,
    async () => {
      await createTransport({
        host: '127.0.0.1',
        port: relay.port('submission'),
        secure: false,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'alice', pass: PASSWORD },
      }).sendMail({
        envelope: { from: 'alice@example.org', to: ['bob@example.net'] },
        raw: testMessage('dkimpy e2e'),
      });
      await expect
        .poll(() => peer.transactions.some((t) => t.content?.toString().includes('dkimpy e2e')), {
          timeout: 30_000,
        })
        .toBe(true);
      const received =
        peer.transactions
          .find((t) => t.content?.toString().includes('dkimpy e2e'))
          ?.content?.toString('latin1') ?? '';
      expect(dkimpyVerify(received, DKIM_RECORDS)).toEqual([true, true]);
    },
  );

  it.skipIf(!swaks && !ci)(
    `delivers a message submitted by swaks with AUTH LOGIN over STARTTLS${swaks ? '' : ' (skipped: swaks missing)'}`,
    async () => {
      // Asynchronous: the relay runs in this process, so a synchronous spawn would block it.
      const run = await execFileAsync(
        'swaks',
        [
          '--server',
          `127.0.0.1:${relay.port('submission')}`,
          '--tls',
          '--auth',
          'LOGIN',
          '--auth-user',
          'alice',
          '--auth-password',
          PASSWORD,
          '--from',
          'alice@example.org',
          '--to',
          'bob@example.net',
          '--header',
          'Subject: swaks e2e',
          '--header',
          'From: alice@example.org',
          '--body',
          'sent by swaks',
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(run.stdout).toMatch(/<~ {2}250 .*queued as/);
      await expect
        .poll(() => peer.transactions.some((t) => t.content?.toString().includes('swaks e2e')), {
          timeout: 30_000,
        })
        .toBe(true);
    },
  );
});
