import { describe, expect, it } from 'vitest';
import { deliveryCourierOptions, deliveryWorkerOptions, SMARTHOST_PREFIX } from './delivery-options.ts';
import type { MtaConfig } from './mta-sections.ts';

const base: Pick<MtaConfig, 'hostname' | 'dns' | 'delivery' | 'smarthosts'> = {
  hostname: 'mx.example.org',
  dns: { servers: ['127.0.0.1:5353'], cacheTtlMs: 30_000 },
  delivery: {
    port: 2525,
    tls: 'required',
    concurrency: 20,
    perNextHop: 4,
    mtaSts: true,
    reuseIdleMs: 5000,
    leaseMs: 600_000,
    pollMs: 1000,
  },
  smarthosts: {
    out: { host: 'smtp.example', tls: 'implicit', username: 'u', password: 'p', verifyCertificate: false },
    plain: {
      host: 'relay.example',
      port: 25,
      tls: 'none',
      username: null,
      password: null,
      verifyCertificate: true,
    },
  },
};

describe('deliveryCourierOptions', () => {
  it('maps the delivery settings onto the SMTP courier', () => {
    const options = deliveryCourierOptions(base);
    expect(options).toMatchObject({
      localName: 'mx.example.org',
      dns: { servers: ['127.0.0.1:5353'] },
      port: 2525,
      tls: 'required',
      reuse: { idleMs: 5000 },
    });
    expect(options.mtaSts).toBeDefined();
  });

  it('sends `smarthost:<name>` next hops to that smarthost, with credentials, and domains to their MX', () => {
    const { smarthost } = deliveryCourierOptions(base);
    if (typeof smarthost !== 'function') throw new Error('expected a per-next-hop smarthost');
    expect(smarthost(`${SMARTHOST_PREFIX}out`)).toEqual({
      host: 'smtp.example',
      tls: 'implicit',
      verifyCertificate: false,
      auth: { username: 'u', password: 'p' },
    });
    expect(smarthost(`${SMARTHOST_PREFIX}plain`)).toEqual({
      host: 'relay.example',
      port: 25,
      tls: 'none',
      verifyCertificate: true,
    });
    expect(smarthost(`${SMARTHOST_PREFIX}unknown`)).toBeUndefined();
    expect(smarthost('out')).toBeUndefined();
  });

  it('leaves out MTA-STS, reuse and DNS servers when the configuration turns them off', () => {
    const options = deliveryCourierOptions({
      ...base,
      dns: { servers: [], cacheTtlMs: 30_000 },
      delivery: { ...base.delivery, mtaSts: false, reuseIdleMs: 0 },
    });
    expect(options.mtaSts).toBeUndefined();
    expect(options.reuse).toBeUndefined();
    expect(options.dns).toBeUndefined();
  });
});

describe('deliveryWorkerOptions', () => {
  it('takes the worker limits from the delivery section', () => {
    expect(deliveryWorkerOptions(base)).toEqual({
      concurrency: 20,
      perNextHop: 4,
      leaseMs: 600_000,
      pollMs: 1000,
    });
  });
});
