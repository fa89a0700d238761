// Check modules from the configuration: @mailyard/check-dnsbl, loaded by package name, refuses a
// client listed in a (loopback) block list zone at RCPT, and lets an unlisted one through.

import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveredTo, startWorld, type TestWorld, until } from './helpers.ts';

describe('check modules', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld({
      checks: [{ module: '@mailyard/check-dnsbl', options: { zones: ['bl.test'], domainZones: [] } }],
    });
    // RFC 5782 §5: 127.0.0.2 is the test point every list answers as listed.
    world.dns.update('2.0.0.127.bl.test', { A: ['127.0.0.2'], TXT: ['listed for testing'] });
  });
  afterAll(async () => {
    await world?.[Symbol.asyncDispose]();
  });

  const sendFrom = (localAddress: string) =>
    createTransport({
      host: '127.0.0.1',
      port: world.port,
      secure: false,
      localAddress,
      tls: { rejectUnauthorized: false },
    }).sendMail({
      from: 'ann@sender.test',
      to: 'alias@forward.test',
      text: 'hello',
    });

  it('refuses a listed client with 554 5.7.1 and the list reason, and accepts an unlisted one', async () => {
    await expect(sendFrom('127.0.0.2')).rejects.toMatchObject({
      responseCode: 554,
      response: expect.stringMatching(/5\.7\.1 .*bl\.test.*listed for testing/),
    });
    const info = await sendFrom('127.0.0.1');
    expect(info.response).toMatch(/^250 /);
    await until(() => deliveredTo(world.peer, 'dest@inbox.test').length === 1);
  });
});
