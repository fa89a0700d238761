// DKIM signing at delivery (RFC 6376 §3.5): a Courier around another that prepends the
// DKIM-Signature fields to the message each time the inner courier opens it. Signing here rather
// than before the queue commit lets a message of any size stream from the SMTP client to the
// queue and from the queue to the next hop without ever being held whole: the signature needs
// the whole body hashed, which at delivery time is one extra streaming read of the stored copy.
// The signature is computed once per delivery request and reused if the message is reopened
// (measuring for SIZE, a second MX host).

import { PassThrough, pipeline, type Readable } from 'node:stream';
import type { Courier } from '@mailyard/smtp';
import type { DkimSigner } from './dkim-signer.ts';

export function createSigningCourier(inner: Courier, signer: DkimSigner): Courier {
  return {
    deliver(request, signal) {
      let signature: Promise<string> | undefined;
      const openMessage = (): Readable => {
        signature ??= signer.sign(request.openMessage()).then((s) => s.headers);
        const out = new PassThrough();
        signature.then(
          (headers) => {
            if (headers) out.write(headers);
            pipeline(request.openMessage(), out, () => {});
          },
          (error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))),
        );
        return out;
      };
      return inner.deliver({ ...request, openMessage }, signal);
    },
  };
}
