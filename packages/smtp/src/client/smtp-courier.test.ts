import { Readable } from 'node:stream';
import {
  createTestCertificate,
  type DnsServer,
  type PeerScript,
  type SmtpPeer,
  startDns,
  startPeer,
  type Zone,
} from '@mailyard/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAddress } from '../address.ts';
import type { DeliveryRequest } from '../delivery.ts';
import { SmtpError } from '../smtp-error.ts';
import { createSmtpCourier, type SmtpCourier, type SmtpCourierOptions } from './smtp-courier.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

let certificate: { key: string; cert: string };
beforeAll(async () => {
  certificate = await createTestCertificate({
    commonName: 'mx1.example.test',
    altNames: ['DNS:mx1.example.test', 'DNS:relay.test'],
  });
});

/**
 * MX hosts all use one port (the courier's `port`), so peers that stand for different hosts
 * listen on the same port at different loopback addresses (127.0.0.2, .3, ...). The first peer
 * picks a free port; if another address already holds it, start over.
 */
async function peersOnOnePort(scripts: PeerScript[]): Promise<SmtpPeer[]> {
  for (let attempt = 0; ; attempt++) {
    const first = await startPeer({ ...scripts[0], host: '127.0.0.2' });
    const peers = [first];
    try {
      for (const [i, script] of scripts.slice(1).entries()) {
        peers.push(await startPeer({ ...script, host: `127.0.0.${i + 3}`, port: first.port }));
      }
      cleanups.push(async () => {
        await Promise.all(peers.map((p) => p.close()));
      });
      return peers;
    } catch (error) {
      await Promise.all(peers.map((p) => p.close()));
      if (attempt >= 10) throw error;
    }
  }
}

async function dns(zone: Zone): Promise<DnsServer> {
  const server = await startDns(zone);
  cleanups.push(() => server.close());
  return server;
}

function courier(server: DnsServer, port: number, options: Partial<SmtpCourierOptions> = {}): SmtpCourier {
  const created = createSmtpCourier({
    // Generous: a loaded machine may answer slowly. The silent-DNS test passes its own.
    dns: { servers: [server.address], timeout: 3_000, tries: 1 },
    port,
    localName: 'relay.test',
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

function request(
  nextHop: string,
  rcpts: string[],
  message = 'Subject: hi\r\n\r\nHello\r\n',
): DeliveryRequest {
  return {
    queueId: 'q1',
    nextHop,
    envelope: {
      mailFrom: parseAddress('sender@origin.test'),
      rcptTo: rcpts.map((r) => ({ address: parseAddress(r) })),
      params: {},
    },
    openMessage: () => Readable.from([Buffer.from(message)]),
  };
}

const signal = () => AbortSignal.timeout(15_000);

describe('createSmtpCourier', () => {
  it('delivers to the most preferred MX host', async () => {
    const [best, other] = await peersOnOnePort([{}, {}]);
    const server = await dns({
      'example.test': {
        MX: [
          { priority: 20, exchange: 'mx2.example.test' },
          { priority: 10, exchange: 'mx1.example.test' },
        ],
      },
      'mx1.example.test': { A: ['127.0.0.2'] },
      'mx2.example.test': { A: ['127.0.0.3'] },
    });
    const outcomes = await courier(server, best!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes).toEqual([{ rcpt: 'a@example.test', status: 'delivered', reply: '250 2.0.0 OK queued' }]);
    expect(best?.transactions).toHaveLength(1);
    expect(other?.sessions).toHaveLength(0);
  });

  it('falls back to the next MX host when the first refuses connections', async () => {
    const [backup] = await peersOnOnePort([{}]);
    const server = await dns({
      'example.test': {
        MX: [
          { priority: 10, exchange: 'down.example.test' },
          { priority: 20, exchange: 'backup.example.test' },
        ],
      },
      'down.example.test': { A: ['127.0.0.9'] },
      'backup.example.test': { A: ['127.0.0.2'] },
    });
    const outcomes = await courier(server, backup!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status).toBe('delivered');
    expect(backup?.transactions).toHaveLength(1);
  });

  it('falls back to the next MX host after a 4xx greeting', async () => {
    const [busy, backup] = await peersOnOnePort([{ greeting: '421 4.3.2 Too busy' }, {}]);
    const server = await dns({
      'example.test': {
        MX: [
          { priority: 10, exchange: 'busy.example.test' },
          { priority: 20, exchange: 'backup.example.test' },
        ],
      },
      'busy.example.test': { A: ['127.0.0.2'] },
      'backup.example.test': { A: ['127.0.0.3'] },
    });
    const outcomes = await courier(server, busy!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status).toBe('delivered');
    expect(busy?.sessions).toHaveLength(1);
    expect(busy?.transactions).toHaveLength(0);
    expect(backup?.transactions).toHaveLength(1);
  });

  it('falls back to the next address of a host when the first fails', async () => {
    const [live] = await peersOnOnePort([{}]);
    const server = await dns({
      'example.test': { MX: [{ priority: 10, exchange: 'mx.example.test' }] },
      'mx.example.test': { A: ['127.0.0.9', '127.0.0.2'] },
    });
    // Whatever order the DNS server returns the addresses in, the live one must be reached.
    const outcomes = await courier(server, live!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status).toBe('delivered');
  });

  it('defers when every MX host is unreachable', async () => {
    const [unused] = await peersOnOnePort([{}]);
    const server = await dns({
      'example.test': { MX: [{ priority: 10, exchange: 'down.example.test' }] },
      'down.example.test': { A: ['127.0.0.9'] },
    });
    const outcomes = await courier(server, unused!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toBe('4.4.1');
  });

  it('delivers to the domain itself when it has no MX records (implicit MX)', async () => {
    const [host] = await peersOnOnePort([{}]);
    const server = await dns({ 'plain.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, host!.port).deliver(
      request('plain.test', ['a@plain.test']),
      signal(),
    );
    expect(outcomes[0]?.status).toBe('delivered');
    expect(server.queries.map((q) => [q.name, q.type])).toContainEqual(['plain.test', 'MX']);
  });

  it('bounces every recipient with 556 5.1.10 for a null MX domain', async () => {
    const server = await dns({ 'nomail.test': { MX: [{ priority: 0, exchange: '.' }] } });
    const outcomes = await courier(server, 2525).deliver(
      request('nomail.test', ['a@nomail.test', 'b@nomail.test']),
      signal(),
    );
    expect(outcomes.map((o) => o.status === 'bounced' && [o.rcpt, o.error.code, o.error.enhanced])).toEqual([
      ['a@nomail.test', 556, '5.1.10'],
      ['b@nomail.test', 556, '5.1.10'],
    ]);
  });

  it('bounces when the domain does not exist', async () => {
    const server = await dns({});
    const outcomes = await courier(server, 2525).deliver(
      request('missing.test', ['a@missing.test']),
      signal(),
    );
    expect(outcomes[0]?.status === 'bounced' && outcomes[0].error.enhanced).toBe('5.1.2');
  });

  it('defers when DNS fails with SERVFAIL', async () => {
    const server = await dns({ 'broken.test': { failure: 'SERVFAIL' } });
    const outcomes = await courier(server, 2525).deliver(request('broken.test', ['a@broken.test']), signal());
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.code).toBe(451);
  });

  it('defers when DNS does not answer', async () => {
    const server = await dns({ 'slow.test': { failure: 'timeout' } });
    const outcomes = await courier(server, 2525, {
      dns: { servers: [server.address], timeout: 300, tries: 1 },
    }).deliver(request('slow.test', ['a@slow.test']), signal());
    expect(outcomes[0]?.status).toBe('deferred');
  });

  it('sends all recipients of a request in one transaction and reports each', async () => {
    const [host] = await peersOnOnePort([
      { rcpt: ['250 2.1.5 OK', '550 5.1.1 Unknown user', '450 4.2.0 Later'] },
    ]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, host!.port).deliver(
      request('example.test', ['a@example.test', 'b@example.test', 'c@example.test']),
      signal(),
    );
    expect(outcomes.map((o) => [o.rcpt, o.status])).toEqual([
      ['a@example.test', 'delivered'],
      ['b@example.test', 'bounced'],
      ['c@example.test', 'deferred'],
    ]);
    expect(host?.transactions).toHaveLength(1);
  });

  it('defers with 4.4.x when the peer drops the connection mid-DATA', async () => {
    const [host] = await peersOnOnePort([{ dropMidData: true }]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, host!.port).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toMatch(/^4\.4\.\d+$/);
  });

  it('defers with 451 4.3.0 when the message cannot be opened', async () => {
    const [host] = await peersOnOnePort([{}]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const broken: DeliveryRequest = {
      ...request('example.test', ['a@example.test']),
      openMessage: () => {
        throw new Error('spool file missing');
      },
    };
    const outcomes = await courier(server, host!.port).deliver(broken, signal());
    expect(
      outcomes[0]?.status === 'deferred' && [outcomes[0].error.code, outcomes[0].error.enhanced],
    ).toEqual([451, '4.3.0']);
  });

  it('times out a silent MX host and defers', async () => {
    const [silent] = await peersOnOnePort([{ greeting: 'silent' }]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, silent!.port, { timeouts: { greeting: 300 } }).deliver(
      request('example.test', ['a@example.test']),
      signal(),
    );
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toBe('4.4.2');
  });

  it('reuses a pooled connection for the next request to the same next hop', async () => {
    const [host] = await peersOnOnePort([{}]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const pooled = courier(server, host!.port, { reuse: { idleMs: 5_000 } });
    for (let i = 0; i < 3; i++) {
      const outcomes = await pooled.deliver(request('example.test', [`r${i}@example.test`]), signal());
      expect(outcomes[0]?.status).toBe('delivered');
    }
    expect(host?.sessions).toHaveLength(1);
    expect(host?.transactions).toHaveLength(3);
    await pooled.close();
    await host?.waitForClosedSessions(1);
  });

  it('opens a new connection per request without reuse', async () => {
    const [host] = await peersOnOnePort([{}]);
    const server = await dns({ 'example.test': { A: ['127.0.0.2'] } });
    const plain = courier(server, host!.port);
    await plain.deliver(request('example.test', ['a@example.test']), signal());
    await plain.deliver(request('example.test', ['b@example.test']), signal());
    expect(host?.sessions).toHaveLength(2);
  });

  it('delivers through a smarthost with AUTH over STARTTLS', async () => {
    const [relay] = await peersOnOnePort([{ tls: certificate, auth: { users: { mailer: 'pw' } } }]);
    const server = await dns({ 'relay.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, 25, {
      smarthost: {
        host: 'relay.test',
        port: relay!.port,
        tls: 'starttls',
        auth: { username: 'mailer', password: 'pw' },
        tlsOptions: { ca: certificate.cert },
      },
    }).deliver(request('anywhere.test', ['a@anywhere.test']), signal());
    expect(outcomes[0]?.status).toBe('delivered');
    expect(relay?.sessions[0]?.auth).toEqual({ mechanism: 'PLAIN', username: 'mailer', password: 'pw' });
    expect(relay?.transactions[0]?.tls).toBe(true);
    expect(server.queries.some((q) => q.type === 'MX')).toBe(false);
  });

  it('delivers through a smarthost with implicit TLS', async () => {
    const [relay] = await peersOnOnePort([{ tls: certificate, implicitTls: true, auth: {} }]);
    const server = await dns({ 'relay.test': { A: ['127.0.0.2'] } });
    const outcomes = await courier(server, 25, {
      smarthost: {
        host: 'relay.test',
        port: relay!.port,
        tls: 'implicit',
        auth: { username: 'mailer', password: 'pw', method: 'LOGIN' },
        tlsOptions: { ca: certificate.cert },
      },
    }).deliver(request('anywhere.test', ['a@anywhere.test']), signal());
    expect(outcomes[0]?.status).toBe('delivered');
    expect(relay?.sessions[0]?.auth?.mechanism).toBe('LOGIN');
  });

  it('defers when the smarthost does not offer STARTTLS', async () => {
    const [relay] = await peersOnOnePort([{ auth: {} }]);
    const server = await dns({});
    const outcomes = await courier(server, 25, {
      smarthost: { host: '127.0.0.2', port: relay!.port, auth: { username: 'u', password: 'p' } },
    }).deliver(request('anywhere.test', ['a@anywhere.test']), signal());
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toBe('4.7.0');
    expect(relay?.commands.some((c) => c.startsWith('AUTH'))).toBe(false);
  });

  it('skips MX hosts that an enforced MTA-STS policy does not list and verifies TLS', async () => {
    const [rogue, listed] = await peersOnOnePort([{}, { tls: certificate }]);
    const server = await dns({
      'example.test': {
        MX: [
          { priority: 5, exchange: 'rogue.attacker.test' },
          { priority: 10, exchange: 'mx1.example.test' },
        ],
      },
      'rogue.attacker.test': { A: ['127.0.0.2'] },
      'mx1.example.test': { A: ['127.0.0.3'] },
    });
    const outcomes = await courier(server, rogue!.port, {
      mtaSts: async () => ({ mode: 'enforce', mx: ['*.example.test'] }),
      tlsOptions: { ca: certificate.cert },
    }).deliver(request('example.test', ['a@example.test']), signal());
    expect(outcomes[0]?.status).toBe('delivered');
    expect(rogue?.sessions).toHaveLength(0);
    expect(listed?.transactions[0]?.tls).toBe(true);
  });

  it('defers under an enforced MTA-STS policy when the MX certificate does not verify', async () => {
    const [host] = await peersOnOnePort([{ tls: certificate }]);
    const server = await dns({
      'example.test': { MX: [{ priority: 10, exchange: 'mx1.example.test' }] },
      'mx1.example.test': { A: ['127.0.0.2'] },
    });
    // No `ca`: the self-signed certificate cannot verify.
    const outcomes = await courier(server, host!.port, {
      mtaSts: async () => ({ mode: 'enforce', mx: ['mx1.example.test'] }),
    }).deliver(request('example.test', ['a@example.test']), signal());
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error.enhanced).toBe('4.7.5');
    expect(host?.transactions).toHaveLength(0);
  });

  it('defers under an enforced MTA-STS policy when no MX host matches', async () => {
    const server = await dns({
      'example.test': { MX: [{ priority: 10, exchange: 'mx.elsewhere.test' }] },
    });
    const outcomes = await courier(server, 2525, {
      mtaSts: async () => ({ mode: 'enforce', mx: ['mx1.example.test'] }),
    }).deliver(request('example.test', ['a@example.test']), signal());
    expect(outcomes[0]?.status === 'deferred' && outcomes[0].error).toBeInstanceOf(SmtpError);
  });

  it('delivers normally under a testing MTA-STS policy', async () => {
    const [host] = await peersOnOnePort([{}]);
    const server = await dns({
      'example.test': { MX: [{ priority: 10, exchange: 'mx.elsewhere.test' }] },
      'mx.elsewhere.test': { A: ['127.0.0.2'] },
    });
    const outcomes = await courier(server, host!.port, {
      mtaSts: async () => ({ mode: 'testing', mx: ['mx1.example.test'] }),
    }).deliver(request('example.test', ['a@example.test']), signal());
    expect(outcomes[0]?.status).toBe('delivered');
  });

  it('accepts a node:dns Resolver-like object as its DNS', async () => {
    const [host] = await peersOnOnePort([{}]);
    const lookups: string[] = [];
    const outcomes = await createSmtpCourier({
      port: host!.port,
      dns: {
        resolveMx: async (name) => {
          lookups.push(`MX ${name}`);
          return [{ priority: 10, exchange: 'mx.fixture.test' }];
        },
        resolve4: async (name) => {
          lookups.push(`A ${name}`);
          return ['127.0.0.2'];
        },
        resolve6: async () => Promise.reject(Object.assign(new Error('no data'), { code: 'ENODATA' })),
        resolveTxt: async () => [],
      },
    }).deliver(request('fixture.test', ['a@fixture.test']), signal());
    expect(outcomes[0]?.status).toBe('delivered');
    expect(lookups).toEqual(['MX fixture.test', 'A mx.fixture.test']);
  });
});
