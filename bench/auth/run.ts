// bench/auth: DKIM sign and verify throughput of @mailyard/auth against calling mailauth
// directly, in the same process and run, for 10 KB and 1 MB messages with rsa-2048 and ed25519
// keys. Sign: signDkim vs mailauth dkimSign. Verify: verify() vs mailauth authenticate() (SPF,
// DKIM, ARC, DMARC; BIMI off), both with the same in-memory resolver. The two sides alternate in
// short rounds so that machine load hits both alike. Goal: the wrapper costs no more than 10%.
//
// Run from /work/main: pnpm exec node --conditions=source bench/auth/run.ts [--seconds 1.5] [--json]

import { parseArgs } from 'node:util';
import { createStaticResolver, dkimDnsRecord, generateDkimKey, signDkim, verify } from '@mailyard/auth';
import { authenticate, dkimSign } from 'mailauth';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '1.2' }, json: { type: 'boolean', default: false } },
});
const seconds = Number(values.seconds);

const keys = {
  rsa: generateDkimKey({ type: 'rsa', bits: 2048 }),
  ed25519: generateDkimKey({ type: 'ed25519' }),
};
const zone: Record<string, { TXT: string[] }> = {
  'example.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=reject'] },
};
for (const [type, key] of Object.entries(keys)) {
  const record = dkimDnsRecord({ domain: 'example.org', selector: type, key: key.privateKey });
  zone[record.name] = { TXT: [record.value] };
}
const resolver = createStaticResolver(zone);

function message(size: number): Buffer {
  const head =
    'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: bench\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@example.org>\r\n\r\n';
  const line = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
  return Buffer.from(head + line.repeat(Math.ceil((size - head.length) / line.length)));
}

type Op = () => Promise<unknown>;

/** Runs a and b alternately in rounds until each has had `seconds`; returns operations per second. */
async function race(a: Op, b: Op): Promise<[number, number]> {
  const sides = [
    { op: a, time: 0, count: 0 },
    { op: b, time: 0, count: 0 },
  ];
  for (let warm = 0; warm < 2; warm++) for (const side of sides) await side.op();
  while (sides.some((side) => side.time < seconds * 1000)) {
    for (const side of sides) {
      const started = performance.now();
      const until = started + 100;
      do {
        await side.op();
        side.count++;
      } while (performance.now() < until);
      side.time += performance.now() - started;
    }
  }
  const [first, second] = sides.map((side) => side.count / (side.time / 1000));
  return [first ?? 0, second ?? 0];
}

const rows: { op: string; size: string; key: string; wrapper: number; mailauth: number; overhead: number }[] =
  [];
for (const [label, size] of [
  ['10 KB', 10 * 1024],
  ['1 MB', 1024 * 1024],
] as const) {
  const body = message(size);
  for (const type of ['rsa', 'ed25519'] as const) {
    const privateKey = keys[type].privateKey;
    const [ours, theirs] = await race(
      () => signDkim(body, { domain: 'example.org', selector: type, privateKey }),
      // mailauth signs only what is listed in signatureData (top-level keys sign nothing).
      async () => {
        const result = await dkimSign(body, {
          signatureData: [{ signingDomain: 'example.org', selector: type, privateKey }],
        } as never);
        if (!result.signatures) throw new Error('mailauth made no signature');
      },
    );
    rows.push({
      op: 'sign',
      size: label,
      key: type,
      wrapper: ours,
      mailauth: theirs,
      overhead: theirs / ours - 1,
    });

    const signed = Buffer.concat([
      Buffer.from(await signDkim(body, { domain: 'example.org', selector: type, privateKey })),
      body,
    ]);
    const common = { ip: '192.0.2.10', helo: 'mail.example.org', sender: 'alice@example.org' };
    const [v1, v2] = await race(
      () =>
        verify(signed, {
          resolver,
          authservId: 'mx.example.net',
          clientIp: common.ip,
          helo: common.helo,
          envelope: { mailFrom: { localPart: 'alice', domain: 'example.org' } },
        }),
      () =>
        authenticate(signed, {
          ...common,
          mta: 'mx.example.net',
          resolver: resolver as never,
          disableBimi: true,
        }),
    );
    rows.push({ op: 'verify', size: label, key: type, wrapper: v1, mailauth: v2, overhead: v2 / v1 - 1 });
  }
}

if (values.json) {
  console.log(JSON.stringify({ seconds, node: process.version, rows }, null, 2));
} else {
  console.log(`DKIM throughput, messages/s (${seconds}s per side per case, node ${process.version})`);
  console.log('op      size   key       @mailyard/auth     mailauth   wrapper cost');
  for (const r of rows) {
    const cost = `${r.overhead >= 0 ? '+' : ''}${(r.overhead * 100).toFixed(1)}%`;
    console.log(
      `${r.op.padEnd(7)} ${r.size.padEnd(6)} ${r.key.padEnd(8)} ${r.wrapper.toFixed(1).padStart(15)} ${r.mailauth.toFixed(1).padStart(12)}   ${cost.padStart(8)}`,
    );
  }
  console.log('wrapper cost = mailauth rate / wrapper rate - 1 (negative: the wrapper is faster)');
}
