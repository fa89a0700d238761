// The relay loads the same check modules as the forwarder: @mailyard/check-dnsbl by package name
// from the configuration refuses a listed client on the trusted (MX-style) listener at RCPT.

import { type DnsServer, startDns } from '@mailyard/testkit';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from './helpers.ts';

describe('check modules in the relay', () => {
  let dns: DnsServer;
  let relay: TestRelay;
  beforeAll(async () => {
    dns = await startDns({ '2.0.0.127.bl.test': { A: ['127.0.0.2'], TXT: ['listed for testing'] } });
    relay = await startTestRelay({
      dns: { servers: [dns.address] },
      checks: [{ module: '@mailyard/check-dnsbl', options: { zones: ['bl.test'], domainZones: [] } }],
    });
  });
  afterAll(async () => {
    await relay?.[Symbol.asyncDispose]();
    await dns?.close();
  });

  it('refuses a listed client with 554 5.7.1 and lets an unlisted one through', async () => {
    const sendFrom = (localAddress: string) =>
      createTransport({
        host: '127.0.0.1',
        port: relay.port('trusted'),
        secure: false,
        localAddress,
        tls: { rejectUnauthorized: false },
      }).sendMail({
        from: 'someone@example.com',
        to: 'bob@relay.test', // not postmaster@: the check lets postmaster and abuse through
        text: 'hello',
      });
    await expect(sendFrom('127.0.0.2')).rejects.toMatchObject({
      responseCode: 554,
      response: expect.stringContaining('5.7.1'),
    });
    expect((await sendFrom('127.0.0.1')).response).toMatch(/^250 /);
  });
});
