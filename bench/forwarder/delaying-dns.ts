// A UDP DNS proxy that holds every query for `delayMs` before passing it to an upstream server,
// and counts how many queries are waiting at once: a resolver 20 ms away, and the evidence of
// whether the forwarder's verification asks many questions in flight or one after another.

import { createSocket, type RemoteInfo } from 'node:dgram';
import { once } from 'node:events';

export interface DelayingDns {
  /** `127.0.0.1:PORT`, for `dns.servers`. */
  readonly address: string;
  /** Milliseconds each query waits before it goes upstream (0: passed on at once). */
  delayMs: number;
  /** Queries received so far. */
  readonly queries: number;
  /** The most queries that were waiting for their answer at the same time since `resetPeak()`. */
  readonly peakInFlight: number;
  resetPeak(): void;
  close(): Promise<void>;
}

/** Proxies to `upstreamPort` on 127.0.0.1. Answers fit in UDP here (no TCP fallback). */
export async function startDelayingDns(upstreamPort: number, delayMs = 0): Promise<DelayingDns> {
  const server = createSocket('udp4');
  let inFlight = 0;
  let peak = 0;
  let queries = 0;
  const pending = new Set<ReturnType<typeof createSocket>>();
  const proxy: DelayingDns = {
    address: '',
    delayMs,
    get queries() {
      return queries;
    },
    get peakInFlight() {
      return peak;
    },
    resetPeak() {
      peak = inFlight;
    },
    async close() {
      for (const socket of pending) socket.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('message', (query: Buffer, client: RemoteInfo) => {
    queries++;
    inFlight++;
    peak = Math.max(peak, inFlight);
    const upstream = createSocket('udp4');
    pending.add(upstream);
    const done = (): void => {
      inFlight--;
      pending.delete(upstream);
      upstream.close();
    };
    upstream.once('message', (answer: Buffer) => {
      server.send(answer, client.port, client.address);
      done();
    });
    upstream.once('error', done);
    setTimeout(() => upstream.send(query, upstreamPort, '127.0.0.1'), proxy.delayMs);
  });
  server.bind(0, '127.0.0.1');
  await once(server, 'listening');
  Object.assign(proxy, { address: `127.0.0.1:${server.address().port}` });
  return proxy;
}
