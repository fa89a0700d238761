// Sign a message as the sender's relay, verify it as the receiver, seal it as a forwarder,
// and rewrite the envelope sender with SRS. DNS answers come from a fixed table here; in
// production pass `createResolver({ servers: ['127.0.0.1:53'] })` or your own resolver.
import {
  createSrs,
  createStaticResolver,
  dkimDnsRecord,
  generateDkimKey,
  sealArc,
  signDkim,
  verify,
} from '@mailyard/auth';

export async function quickStart() {
  // 1. The sender: a key, the record to publish, and a signature.
  const key = generateDkimKey({ type: 'ed25519' });
  const record = dkimDnsRecord({ domain: 'example.org', selector: 'mail2026', key: key.privateKey });
  const message = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Hello\r\n\r\nHi Bob!\r\n';
  const signatures = await signDkim(message, {
    domain: 'example.org',
    selector: 'mail2026',
    privateKey: key.privateKey,
  });
  const signed = signatures + message;

  // 2. The receiver: one verdict for SPF, DKIM, DMARC and ARC, and the header to add.
  const resolver = createStaticResolver({
    [record.name]: { TXT: [record.value] },
    'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
  });
  const verdict = await verify(signed, {
    envelope: { mailFrom: { localPart: 'alice', domain: 'example.org' } },
    clientIp: '192.0.2.25',
    helo: 'mail.example.org',
    resolver,
    authservId: 'mx.example.net',
  });

  // 3. A forwarder: seal the verdict into the message (ARC) and rewrite the sender (SRS).
  const arcKey = generateDkimKey({ type: 'rsa' });
  const seal = await sealArc(signed, verdict, {
    domain: 'example.net',
    selector: 'arc',
    privateKey: arcKey.privateKey,
  });
  const srs = createSrs({ domain: 'example.net', secrets: ['change me'] });
  const bounceTo = srs.forward('alice@example.org');

  return { record: record.zoneLine, verdict, seal, bounceTo, original: srs.reverse(bounceTo) };
}
