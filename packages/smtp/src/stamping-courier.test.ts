import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseAddress } from './address.ts';
import type { Courier, DeliveryRequest } from './delivery.ts';
import { peekHead } from './message-head.ts';
import { createStampingCourier, HOLD, PIECE, type Stamp } from './stamping-courier.ts';

/** Reads the whole message, as a DKIM signer or an ARC sealer does: one field with its digest. */
const digestStamp: Stamp = async (message) => {
  const hash = createHash('sha256');
  for await (const chunk of message) hash.update(chunk as Buffer);
  return `X-Digest: ${hash.digest('hex')}\r\n`;
};

/** Stops after the header block unless From is example.org, as a signer without a key does. */
const headOnlyStamp: Stamp = async (message) => {
  const { head, message: rest } = await peekHead(message);
  if (!/^From: .*@example\.org/m.test(head.toString())) {
    rest.destroy();
    return '';
  }
  return digestStamp(rest);
};

function request(message: string | Buffer, opened: { count: number }, chunk = 1 << 20): DeliveryRequest {
  const bytes = Buffer.from(message);
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
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += chunk) chunks.push(bytes.subarray(at, at + chunk));
      return Readable.from(chunks);
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

const signal = new AbortController().signal;

describe('stamping courier', () => {
  it('prepends the stamped fields, the same each time the message is opened, reading a small message from the store once', async () => {
    const seen: string[] = [];
    const opened = { count: 0 };
    const message = 'From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n';
    await createStampingCourier(recorder(seen), digestStamp).deliver(request(message, opened, 8), signal);
    const digest = createHash('sha256').update(message).digest('hex');
    expect(seen[0]).toBe(`X-Digest: ${digest}\r\n${message}`);
    expect(seen[1]).toBe(seen[0]);
    // Held for the delivery request: the stamp and both opens read the one copy.
    expect(opened.count).toBe(1);
  });

  it('streams a message larger than HOLD: one read to stamp, one per open', async () => {
    const seen: string[] = [];
    const opened = { count: 0 };
    const message = `From: a@example.org\r\n\r\n${'line of body\r\n'.repeat(HOLD / 10)}`;
    await createStampingCourier(recorder(seen), digestStamp).deliver(
      request(message, opened, 64 * 1024),
      signal,
    );
    const digest = createHash('sha256').update(message).digest('hex');
    expect(seen[0]).toBe(`X-Digest: ${digest}\r\n${message}`);
    expect(opened.count).toBe(3);
  });

  it('takes the size the queue knows instead of reading a large message to the end when the stamp stops early', async () => {
    const message = `From: a@elsewhere.example\r\n\r\n${'line of body\r\n'.repeat(HOLD / 10)}`;
    const opened = { count: 0 };
    let size: number | undefined;
    const inner: Courier = {
      async deliver(req) {
        size = req.size;
        return [{ rcpt: 'b@example.net', status: 'delivered', reply: '250 ok' }];
      },
    };
    await createStampingCourier(inner, headOnlyStamp).deliver(
      { ...request(message, opened, 64 * 1024), size: message.length },
      signal,
    );
    expect(size).toBe(message.length);
    expect(opened.count).toBe(1);
  });

  it('gives the inner courier the SIZE of the stamped message, whether the stamp read all of it or stopped early', async () => {
    const large = `From: a@example.org\r\nSubject: s\r\n\r\n${'line of body\r\n'.repeat(20_000)}`;
    for (const [message, stamp] of [
      [large, digestStamp],
      [large, headOnlyStamp],
      [`From: a@elsewhere.example\r\n\r\n${'line of body\r\n'.repeat(20_000)}`, headOnlyStamp],
      ['From: a@elsewhere.example\r\n\r\nbody\r\n', headOnlyStamp],
    ] as const) {
      let size: number | undefined;
      let sent = 0;
      const inner: Courier = {
        async deliver(req) {
          size = req.envelope.params.size;
          expect(req.size).toBe(size);
          sent = Buffer.concat(await req.openMessage().toArray()).length;
          return [{ rcpt: 'b@example.net', status: 'delivered', reply: '250 ok' }];
        },
      };
      await createStampingCourier(inner, stamp).deliver(request(message, { count: 0 }, 4096), signal);
      expect(size).toBe(sent);
      expect(sent).toBeGreaterThanOrEqual(message.length);
    }
  });

  it('passes a message the stamp adds nothing to through unchanged', async () => {
    const seen: string[] = [];
    const message = 'From: a@elsewhere.example\r\n\r\nbody\r\n';
    await createStampingCourier(recorder(seen), headOnlyStamp).deliver(
      request(message, { count: 0 }),
      signal,
    );
    expect(seen[0]).toBe(message);
  });

  it('hands the inner courier pieces of at most PIECE octets, whatever the chunks the store reads', async () => {
    const message = Buffer.concat([
      Buffer.from('From: a@example.org\r\n\r\n'),
      Buffer.alloc(PIECE * 5 + 17, 'x'),
    ]);
    const sizes: number[] = [];
    const inner: Courier = {
      async deliver(req) {
        for await (const chunk of req.openMessage()) sizes.push((chunk as Buffer).length);
        return [{ rcpt: 'b@example.net', status: 'delivered', reply: '250 ok' }];
      },
    };
    await createStampingCourier(inner, digestStamp).deliver(
      request(message, { count: 0 }, 512 * 1024),
      signal,
    );
    expect(Math.max(...sizes)).toBeLessThanOrEqual(PIECE);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(message.length + 'X-Digest: \r\n'.length + 64);
  });
});
