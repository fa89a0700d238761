// A real authoritative DNS server on loopback (RFC 1035 §4.2: UDP and TCP on one port) answering
// from a zone object, so code that resolves MX/A/AAAA/TXT/CNAME/NS/PTR can be tested end to end
// against node:dns with `setServers(['127.0.0.1:PORT'])`. Failures are on demand per name:
// NXDOMAIN, SERVFAIL, REFUSED, or silence (the client times out).

import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';

export interface MxRecord {
  readonly priority: number;
  /** A host name, or `'.'` for a null MX (RFC 7505). */
  readonly exchange: string;
}

/** The records of one name. Absent types answer NOERROR with no data (NODATA). */
export interface ZoneEntry {
  readonly MX?: readonly MxRecord[];
  readonly A?: readonly string[];
  readonly AAAA?: readonly string[];
  /** Each record is one string (split into 255-octet character-strings) or its strings. */
  readonly TXT?: readonly (string | readonly string[])[];
  readonly CNAME?: string;
  readonly NS?: readonly string[];
  readonly PTR?: readonly string[];
  /** Answer every query for this name with an error, or not at all (`'timeout'`). */
  readonly failure?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'timeout';
}

/** Names (case-insensitive, trailing dot optional; `*.example.com` is a wildcard) to entries. */
export type Zone = Readonly<Record<string, ZoneEntry>>;

export interface DnsQuery {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
}

export interface DnsServerOptions {
  /** TTL of every answer, in seconds (default 1, so resolver caches do not mask zone changes). */
  readonly ttl?: number;
}

export interface DnsServer {
  /** `127.0.0.1:PORT`, ready for `Resolver#setServers` or a `servers` option. */
  readonly address: string;
  readonly port: number;
  /** Every question received, in order. */
  readonly queries: readonly DnsQuery[];
  /** Replaces the whole zone. */
  setZone(zone: Zone): void;
  /** Sets (or with `undefined`, removes) the entry of one name. */
  update(name: string, entry: ZoneEntry | undefined): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const MAX_CNAME_CHAIN = 8;

function canonical(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** RFC 1035 §3.3.14: a character-string holds at most 255 octets, so longer text is split. */
function splitTxt(value: string | readonly string[]): Buffer[] {
  const parts = typeof value === 'string' ? [value] : value;
  const out: Buffer[] = [];
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    if (bytes.length === 0) out.push(bytes);
    for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  }
  return out;
}

function answersOf(name: string, type: string, entry: ZoneEntry, ttl: number): dnsPacket.Answer[] {
  const base = { name, ttl, class: 'IN' as const };
  switch (type) {
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({
        ...base,
        type: 'MX' as const,
        data: { preference: mx.priority, exchange: canonical(mx.exchange) || '.' },
      }));
    case 'A':
    case 'AAAA':
    case 'NS':
    case 'PTR':
      return (entry[type] ?? []).map((data) => ({ ...base, type, data }));
    case 'TXT':
      return (entry.TXT ?? []).map((txt) => ({ ...base, type: 'TXT' as const, data: splitTxt(txt) }));
    case 'CNAME':
      return entry.CNAME ? [{ ...base, type: 'CNAME' as const, data: entry.CNAME }] : [];
    default:
      return [];
  }
}

export async function startDns(initialZone: Zone = {}, options: DnsServerOptions = {}): Promise<DnsServer> {
  const ttl = options.ttl ?? 1;
  let zone = new Map<string, ZoneEntry>();
  const setZone = (next: Zone) => {
    zone = new Map(Object.entries(next).map(([name, entry]) => [canonical(name), entry]));
  };
  setZone(initialZone);
  const queries: DnsQuery[] = [];

  const lookup = (name: string): ZoneEntry | undefined => {
    const exact = zone.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot < 0 ? undefined : zone.get(`*${name.slice(dot)}`);
  };

  /** Returns the response, or `null` to stay silent. */
  const answer = (query: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp'): dnsPacket.Packet | null => {
    const question = query.questions?.[0];
    const response = (rcode: number, answers: dnsPacket.Answer[] = []): dnsPacket.Packet => ({
      type: 'response',
      id: query.id ?? 0,
      flags:
        dnsPacket.AUTHORITATIVE_ANSWER |
        dnsPacket.RECURSION_AVAILABLE |
        ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) |
        rcode,
      questions: query.questions ?? [],
      answers,
    });
    if (!question) return response(RCODE.REFUSED);
    queries.push({ name: canonical(question.name), type: question.type, transport });
    const answers: dnsPacket.Answer[] = [];
    let name = canonical(question.name);
    for (let hops = 0; hops <= MAX_CNAME_CHAIN; hops++) {
      const entry = lookup(name);
      if (!entry) return answers.length > 0 ? response(RCODE.NOERROR, answers) : response(RCODE.NXDOMAIN);
      if (entry.failure === 'timeout') return null;
      if (entry.failure) return response(RCODE[entry.failure], answers);
      if (entry.CNAME && question.type !== 'CNAME') {
        answers.push(...answersOf(name, 'CNAME', entry, ttl));
        name = canonical(entry.CNAME);
        continue;
      }
      answers.push(...answersOf(name, question.type, entry, ttl));
      return response(RCODE.NOERROR, answers);
    }
    return response(RCODE.SERVFAIL);
  };

  const udp: UdpSocket = createSocket('udp4');
  udp.on('message', (message: Buffer, remote: RemoteInfo) => {
    let query: dnsPacket.DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return;
    }
    const reply = answer(query, 'udp');
    if (!reply) return;
    // RFC 1035 §4.2.1 / RFC 6891 §6.2.5: a reply larger than the client's UDP limit is sent
    // truncated (TC), and the client retries over TCP.
    const opt = query.additionals?.find((a): a is dnsPacket.OptAnswer => a.type === 'OPT');
    const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
    let bytes = dnsPacket.encode(reply);
    if (bytes.length > limit) {
      bytes = dnsPacket.encode({
        ...reply,
        flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
        answers: [],
      });
    }
    udp.send(bytes, remote.port, remote.address);
  });

  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2) {
        const length = buffer.readUInt16BE(0);
        if (buffer.length < 2 + length) break;
        const message = buffer.subarray(2, 2 + length);
        buffer = buffer.subarray(2 + length);
        let query: dnsPacket.DecodedPacket;
        try {
          query = dnsPacket.decode(message);
        } catch {
          socket.destroy();
          return;
        }
        const reply = answer(query, 'tcp');
        if (reply) socket.write(dnsPacket.streamEncode(reply));
      }
    });
  });

  // UDP picks the port; TCP must get the same one. Another process may hold that TCP port,
  // so on a clash start over with a fresh UDP port.
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, '127.0.0.1', () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const port = udp.address().port;
  const bound = await new Promise<boolean>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(false);
      else reject(error);
    };
    tcp.once('error', onError);
    tcp.listen(port, '127.0.0.1', () => {
      tcp.off('error', onError);
      resolve(true);
    });
  });
  if (!bound) {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    return startDns(initialZone, options);
  }

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    })();
    return closed;
  };

  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    setZone,
    update(name, entry) {
      if (entry) zone.set(canonical(name), entry);
      else zone.delete(canonical(name));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
