import { Readable } from 'node:stream';
import { generateDkimKey } from '@mailyard/auth';
import { type Courier, type DeliveryRequest, parseAddress } from '@mailyard/smtp';
import { describe, expect, it } from 'vitest';
import { createDkimSigner } from './dkim-signer.ts';
import { createSigningCourier } from './signing-courier.ts';

const signer = createDkimSigner([
  { domain: 'example.org', selector: 'ed', privateKey: generateDkimKey({ type: 'ed25519' }).privateKey },
  { domain: 'example.org', selector: 'rsa', privateKey: generateDkimKey({ type: 'rsa' }).privateKey },
]);

function request(message: string, opened: { count: number }): DeliveryRequest {
  return {
    queueId: 'q1',
    nextHop: 'example.net',
    envelope: {
      mailFrom: parseAddress('a@example.org'),
      rcptTo: [{ address: parseAddress('b@example.net') }],
      params: {},
    },
    openMessage: () => {
      opened.count++;
      return Readable.from([Buffer.from(message)]);
    },
  };
}

/** A courier that reads the message twice, as a client measuring SIZE does. */
function recorder(seen: string[]): Courier {
  return {
    async deliver(req) {
      for (let i = 0; i < 2; i++) seen.push(Buffer.concat(await req.openMessage().toArray()).toString());
      return [{ rcpt: 'b@example.net', status: 'delivered', reply: '250 ok' }];
    },
  };
}

describe('signing courier', () => {
  it('prepends one signature per key of the From domain, the same each time the message is opened', async () => {
    const seen: string[] = [];
    const opened = { count: 0 };
    const message = 'From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n';
    await createSigningCourier(recorder(seen), signer).deliver(
      request(message, opened),
      new AbortController().signal,
    );
    expect(seen[0]?.match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect(seen[0]?.endsWith(message)).toBe(true);
    expect(seen[1]).toBe(seen[0]);
    // One read to sign, one per open.
    expect(opened.count).toBe(3);
  });

  it('gives the inner courier the SIZE of the signed message, so the client need not measure it', async () => {
    for (const message of [
      `From: a@example.org\r\nSubject: s\r\n\r\n${'line of body\r\n'.repeat(20_000)}`,
      'From: a@elsewhere.example\r\n\r\nbody\r\n',
    ]) {
      let size: number | undefined;
      let sent = 0;
      const inner: Courier = {
        async deliver(req) {
          size = req.envelope.params.size;
          sent = Buffer.concat(await req.openMessage().toArray()).length;
          return [{ rcpt: 'b@example.net', status: 'delivered', reply: '250 ok' }];
        },
      };
      await createSigningCourier(inner, signer).deliver(
        request(message, { count: 0 }),
        new AbortController().signal,
      );
      expect(size).toBe(sent);
      expect(sent).toBeGreaterThanOrEqual(message.length);
    }
  });

  it('passes a message of a domain without keys through unchanged', async () => {
    const seen: string[] = [];
    const message = 'From: a@elsewhere.example\r\n\r\nbody\r\n';
    await createSigningCourier(recorder(seen), signer).deliver(
      request(message, { count: 0 }),
      new AbortController().signal,
    );
    expect(seen[0]).toBe(message);
  });
});
