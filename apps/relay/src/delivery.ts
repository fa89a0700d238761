// The relay's delivery: the SMTP courier built from the shared delivery settings (@mailyard/service's
// deliveryCourierOptions: MX through `dns.servers`, STARTTLS, MTA-STS, smarthosts, reuse), inside a
// stamping courier that DKIM-signs each message as it leaves (RFC 6376 §3.5), under the queue's
// worker (one transaction per next hop, per-next-hop concurrency, retries); the queue logs one line
// per state change of a recipient.

import { createWorker, type Queue, type Worker } from '@mailyard/queue';
import { deliveryCourierOptions, deliveryWorkerOptions, type Logger } from '@mailyard/service';
import { createSmtpCourier, createStampingCourier, type SmtpCourier } from '@mailyard/smtp';
import type { DkimSigner } from './dkim-signer.ts';
import type { RelayConfig } from './relay-config.ts';

export interface DeliveryOptions {
  readonly queue: Queue;
  readonly config: Pick<RelayConfig, 'hostname' | 'dns' | 'delivery' | 'smarthosts'>;
  readonly logger: Logger;
  /** Signs each message as it is delivered (DKIM). */
  readonly signer: DkimSigner;
  /** Names this process's worker in leases. */
  readonly owner?: string;
}

export interface Delivery extends AsyncDisposable {
  readonly worker: Worker;
  readonly courier: SmtpCourier;
  /** Stops leasing, lets deliveries under way finish (or gives their leases back), closes connections. */
  stop(): Promise<void>;
}

export function startDelivery(options: DeliveryOptions): Delivery {
  const { queue, config, logger, signer } = options;
  const courier = createSmtpCourier(deliveryCourierOptions(config));
  const worker = createWorker({
    queue,
    courier: createStampingCourier(courier, async (message) => (await signer.sign(message)).headers),
    ...deliveryWorkerOptions(config),
    logger,
    ...(options.owner ? { owner: options.owner } : {}),
  });
  worker.start();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await worker.stop();
      await courier.close();
    })();
    return stopped;
  };
  return { worker, courier, stop, [Symbol.asyncDispose]: stop };
}
