import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createStaticResolver } from './dns.ts';
import { dkimDnsRecord, generateDkimKey } from './keys.ts';
import { keyForMailauth, mailauthTakesKeyObjects, sealArc } from './seal.ts';
import { signDkim } from './sign.ts';
import { verify } from './verify.ts';

const author = generateDkimKey({ type: 'ed25519' });
const hop1 = generateDkimKey({ type: 'rsa' });
const hop2 = generateDkimKey({ type: 'rsa' });
const txt = (domain: string, selector: string, privateKey: string) => {
  const record = dkimDnsRecord({ domain, selector, key: privateKey });
  return { [record.name]: { TXT: [record.value] } };
};
const resolver = createStaticResolver({
  ...txt('example.org', 'a', author.privateKey),
  ...txt('forwarder.test', 'arc', hop1.privateKey),
  ...txt('list.test', 'arc', hop2.privateKey),
  'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
});
const MESSAGE =
  'From: alice@example.org\r\nTo: list@list.test\r\nSubject: ARC\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nHello\r\n';
const options = (authservId: string) => ({
  envelope: { mailFrom: { localPart: 'alice', domain: 'example.org' } },
  clientIp: '192.0.2.10',
  helo: 'mail.example.org',
  authservId,
  resolver,
});

describe('sealArc', () => {
  it('adds instance 1 with cv=none, and the next hop validates the chain', async () => {
    const message =
      (await signDkim(MESSAGE, { domain: 'example.org', selector: 'a', privateKey: author.privateKey })) +
      MESSAGE;
    const verdict = await verify(message, options('mx.forwarder.test'));
    const sealed = await sealArc(message, verdict, {
      domain: 'forwarder.test',
      selector: 'arc',
      privateKey: hop1.privateKey,
    });
    expect(sealed.sealed).toBe(true);
    if (!sealed.sealed) return;
    expect(sealed.instance).toBe(1);
    expect(sealed.headers).toMatch(/^ARC-Seal: i=1;[\s\S]*cv=none/m);
    expect(sealed.headers).toMatch(/^ARC-Message-Signature: i=1;/m);
    expect(sealed.headers).toMatch(/^ARC-Authentication-Results: i=1; mx\.forwarder\.test;/m);
    const next = await verify(sealed.headers + message, {
      ...options('mx.list.test'),
      clientIp: '203.0.113.1',
    });
    expect(next.arc).toMatchObject({ result: 'pass', instance: 1 });
  });

  it('hands a KeyObject to stock mailauth (an npm install, unpatched) as PEM, exported once', async () => {
    // This workspace runs the patched mailauth, which takes the object itself.
    expect(mailauthTakesKeyObjects()).toBe(true);
    const object = createPrivateKey(hop1.privateKey);
    expect(keyForMailauth(object)).toBe(object);
    const pem = keyForMailauth(object, false);
    expect(typeof pem).toBe('string');
    expect(keyForMailauth(object, false)).toBe(pem);
    expect(createPrivateKey(pem).equals(object)).toBe(true);
    expect(keyForMailauth(hop1.privateKey, false)).toBe(hop1.privateKey);
    const verdict = await verify(MESSAGE, options('mx.forwarder.test'));
    const sealed = await sealArc(MESSAGE, verdict, {
      domain: 'forwarder.test',
      selector: 'arc',
      privateKey: pem,
    });
    expect(sealed.sealed).toBe(true);
  });

  it('seals with a key parsed once (a KeyObject), as a forwarder keeps it', async () => {
    const verdict = await verify(MESSAGE, options('mx.forwarder.test'));
    const key = { domain: 'forwarder.test', selector: 'arc', privateKey: createPrivateKey(hop1.privateKey) };
    const sealed = await sealArc(MESSAGE, verdict, key);
    expect(sealed.sealed).toBe(true);
    if (!sealed.sealed) return;
    const next = await verify(sealed.headers + MESSAGE, {
      ...options('mx.list.test'),
      clientIp: '203.0.113.1',
    });
    expect(next.arc).toMatchObject({ result: 'pass', instance: 1 });
  });

  it('seals in the same pass as verify() when given sealWith, and the next hop validates it', async () => {
    const message =
      (await signDkim(MESSAGE, { domain: 'example.org', selector: 'a', privateKey: author.privateKey })) +
      MESSAGE;
    const key = { domain: 'forwarder.test', selector: 'arc', privateKey: createPrivateKey(hop1.privateKey) };
    const verdict = await verify(message, { ...options('mx.forwarder.test'), sealWith: key });
    expect(verdict.arcSeal?.sealed).toBe(true);
    if (!verdict.arcSeal?.sealed) return;
    expect(verdict.arcSeal.headers).toMatch(/^ARC-Authentication-Results: i=1; mx\.forwarder\.test;/m);
    const next = await verify(verdict.arcSeal.headers + message, {
      ...options('mx.list.test'),
      clientIp: '203.0.113.1',
    });
    expect(next.arc).toMatchObject({ result: 'pass', instance: 1 });
    expect(next.dkim[0]?.result).toBe('pass');
  });

  it('adds instance 2 with cv=pass over a valid chain', async () => {
    const message =
      (await signDkim(MESSAGE, { domain: 'example.org', selector: 'a', privateKey: author.privateKey })) +
      MESSAGE;
    const first = await sealArc(message, await verify(message, options('mx.forwarder.test')), {
      domain: 'forwarder.test',
      selector: 'arc',
      privateKey: hop1.privateKey,
    });
    if (!first.sealed) throw new Error(first.reason);
    const hop1Message = first.headers + message;
    const verdict = await verify(hop1Message, options('mx.list.test'));
    const second = await sealArc(hop1Message, verdict, {
      domain: 'list.test',
      selector: 'arc',
      privateKey: hop2.privateKey,
    });
    expect(second).toMatchObject({ sealed: true, instance: 2 });
    if (!second.sealed) return;
    expect(second.headers).toMatch(/cv=pass/);
    const final = await verify(second.headers + hop1Message, options('mx.receiver.test'));
    expect(final.arc).toMatchObject({ result: 'pass', instance: 2 });
  });

  it('seals a broken chain with cv=fail, and the next hop sees arc=fail', async () => {
    const message =
      (await signDkim(MESSAGE, { domain: 'example.org', selector: 'a', privateKey: author.privateKey })) +
      MESSAGE;
    const first = await sealArc(message, await verify(message, options('mx.forwarder.test')), {
      domain: 'forwarder.test',
      selector: 'arc',
      privateKey: hop1.privateKey,
    });
    if (!first.sealed) throw new Error(first.reason);
    const tampered = (first.headers + message).replace('Subject: ARC', 'Subject: ARC changed');
    const verdict = await verify(tampered, options('mx.list.test'));
    expect(verdict.arc.result).toBe('fail');
    const second = await sealArc(tampered, verdict, {
      domain: 'list.test',
      selector: 'arc',
      privateKey: hop2.privateKey,
    });
    expect(second.sealed && second.headers).toMatch(/cv=fail/);
  });

  it('returns a reason instead of sealing when the key cannot sign', async () => {
    const verdict = await verify(MESSAGE, options('mx.forwarder.test'));
    const result = await sealArc(MESSAGE, verdict, {
      domain: 'forwarder.test',
      selector: 'arc',
      privateKey: 'not a key',
    });
    expect(result.sealed).toBe(false);
  });
});
