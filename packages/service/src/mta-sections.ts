// The configuration sections every Mailyard MTA shares (relay.example.yaml documents each key):
// hostname, dataDir, queue, dns, tls, smarthosts, delivery, admin, log. One reader, so the relay
// and the forwarder accept the same keys with the same defaults and report the same problems; each
// app adds its own keys (listeners, users, rules, ...) with the same ConfigReader.

import { isIP } from 'node:net';
import { createConfigFiles } from './config-files.ts';
import type { ConfigReader } from './config-reader.ts';

/** The top-level keys read here; an app's list of known keys includes them. */
export const MTA_SECTIONS = [
  'hostname',
  'dataDir',
  'queue',
  'dns',
  'tls',
  'smarthosts',
  'delivery',
  'admin',
  'log',
] as const;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface QueueConfig {
  /** `postgres://…`, or null for SQLite in the data dir. */
  readonly url: string | null;
  readonly schema: string | null;
  /** Delays between attempts, or null for the queue's default schedule. */
  readonly retry: readonly number[] | null;
  /** How long a message may wait before it bounces, or null for the queue's default (5 days). */
  readonly lifetimeMs: number | null;
  /** When a `delayed` DSN goes out (default 4 h). */
  readonly delayNoticeMs: number;
  /** The SIZE the SMTP listeners announce (default 25 MiB). */
  readonly maxMessageSize: number;
}

export interface SmarthostConfig {
  readonly host: string;
  readonly port?: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly username: string | null;
  readonly password: string | null;
  readonly verifyCertificate: boolean;
}

export interface DeliveryConfig {
  readonly port: number;
  readonly tls: 'opportunistic' | 'required' | 'none';
  readonly concurrency: number;
  readonly perNextHop: number;
  readonly mtaSts: boolean;
  readonly reuseIdleMs: number;
  readonly leaseMs: number;
  readonly pollMs: number;
}

export interface AdminConfig extends HostPort {
  readonly token: string;
}

export interface MtaConfig {
  readonly hostname: string;
  /** Absolute. */
  readonly dataDir: string;
  readonly queue: QueueConfig;
  readonly dns: {
    readonly servers: readonly string[];
    /** How long verification answers are cached in-process (0: not at all). */
    readonly cacheTtlMs: number;
  };
  /** The PEM texts of `tls.cert` and `tls.key`. */
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly smarthosts: Readonly<Record<string, SmarthostConfig>>;
  readonly delivery: DeliveryConfig;
  readonly admin: AdminConfig | null;
  readonly log: { readonly level: string };
}

export interface MtaSectionsOptions {
  /** The configuration file: the base of relative paths. */
  readonly file: string;
  /** Hostname when the file names none (default `localhost`). */
  readonly defaultHostname?: string;
  /** `admin.listen` when the admin section names none (default `127.0.0.1:8026`). */
  readonly defaultAdminListen?: string;
}

/** `host:port` or `[ipv6]:port`; a string is the problem. */
export function parseHostPort(text: string): HostPort | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) return `${text} is not host:port`;
  return { host: match[1] ?? match[2] ?? '', port };
}

/** Reads the shared sections; bad values become problems of `reader` (and fallbacks here). */
export function readMtaSections(r: ConfigReader, options: MtaSectionsOptions): MtaConfig {
  const files = createConfigFiles(r, options.file);
  const hostname = r.string(['hostname'], options.defaultHostname ?? 'localhost');
  const dataDir = files.path(r.string(['dataDir'], './data'));
  const queue = readQueue(r);
  const dns = { servers: readDnsServers(r), cacheTtlMs: r.duration(['dns', 'cacheTtl'], 30_000) };

  r.keys(['tls'], ['cert', 'key']);
  let tls: MtaConfig['tls'] = null;
  if (r.has(['tls'])) {
    const cert = files.read(['tls', 'cert'], r.optionalString(['tls', 'cert']));
    const key = files.read(['tls', 'key'], r.optionalString(['tls', 'key']));
    if (!r.has(['tls', 'cert'])) r.problem(['tls', 'cert'], 'is required with tls');
    if (!r.has(['tls', 'key'])) r.problem(['tls', 'key'], 'is required with tls');
    if (cert && key) tls = { cert, key };
  }

  const smarthosts = readSmarthosts(r);
  const delivery = readDelivery(r);

  let admin: AdminConfig | null = null;
  if (r.has(['admin'])) {
    r.keys(['admin'], ['listen', 'token', 'tokenFile']);
    const listen = parseHostPort(
      r.string(['admin', 'listen'], options.defaultAdminListen ?? '127.0.0.1:8026'),
    );
    if (typeof listen === 'string') r.problem(['admin', 'listen'], listen);
    const tokenFile = r.optionalString(['admin', 'tokenFile']);
    const token =
      r.optionalString(['admin', 'token']) ?? files.read(['admin', 'tokenFile'], tokenFile)?.trim() ?? null;
    if (!token) r.problem(['admin', 'token'], 'a bearer token (token or tokenFile) is required');
    else if (token.length < 16) r.problem(['admin', 'token'], 'must be at least 16 characters');
    if (typeof listen !== 'string' && token) admin = { ...listen, token };
  }

  r.keys(['log'], ['level']);
  const level = r.string(['log', 'level'], 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    r.problem(['log', 'level'], 'must be one of fatal, error, warn, info, debug, trace, silent');
  }
  return { hostname, dataDir, queue, dns, tls, smarthosts, delivery, admin, log: { level } };
}

function readQueue(r: ConfigReader): QueueConfig {
  r.keys(['queue'], ['url', 'schema', 'retry', 'lifetime', 'delayNotice', 'maxMessageSize']);
  const url = r.optionalString(['queue', 'url']);
  if (url !== null && !/^postgres(?:ql)?:\/\//.test(url))
    r.problem(['queue', 'url'], 'must be a postgres:// URL');
  const retryCount = r.length(['queue', 'retry']);
  const retry =
    retryCount > 0
      ? Array.from({ length: retryCount }, (_, i) => r.duration(['queue', 'retry', i], 0))
      : null;
  return {
    url,
    schema: r.optionalString(['queue', 'schema']),
    retry,
    lifetimeMs: r.has(['queue', 'lifetime']) ? r.duration(['queue', 'lifetime'], 0) : null,
    delayNoticeMs: r.duration(['queue', 'delayNotice'], 4 * 3_600_000),
    maxMessageSize: r.integer(['queue', 'maxMessageSize'], 25 * 1024 * 1024, 1024),
  };
}

function readDnsServers(r: ConfigReader): string[] {
  r.keys(['dns'], ['servers', 'cacheTtl']);
  const servers = r.strings(['dns', 'servers'], []);
  servers.forEach((server, i) => {
    const host = /^\[(.+)\](?::\d+)?$/.exec(server)?.[1] ?? server.replace(/:\d+$/, '');
    if (isIP(host) === 0) r.problem(['dns', 'servers', i], `${server} is not ip[:port]`);
  });
  return servers;
}

function readSmarthosts(r: ConfigReader): Record<string, SmarthostConfig> {
  const smarthosts: Record<string, SmarthostConfig> = {};
  for (const name of r.entries(['smarthosts'])) {
    const p = ['smarthosts', name];
    r.keys(p, ['host', 'port', 'tls', 'username', 'password', 'verifyCertificate']);
    const host = r.optionalString([...p, 'host']);
    if (host === null) r.problem([...p, 'host'], 'is required');
    const tlsMode = r.string([...p, 'tls'], 'starttls');
    if (!['starttls', 'implicit', 'none'].includes(tlsMode))
      r.problem([...p, 'tls'], 'must be starttls, implicit or none');
    const port = r.has([...p, 'port']) ? r.integer([...p, 'port'], 587, 1, 65535) : undefined;
    smarthosts[name] = {
      host: host ?? '',
      ...(port !== undefined ? { port } : {}),
      tls: tlsMode as SmarthostConfig['tls'],
      username: r.optionalString([...p, 'username']),
      password: r.optionalString([...p, 'password']),
      verifyCertificate: r.boolean([...p, 'verifyCertificate'], true),
    };
  }
  return smarthosts;
}

function readDelivery(r: ConfigReader): DeliveryConfig {
  r.keys(['delivery'], ['port', 'tls', 'concurrency', 'perNextHop', 'mtaSts', 'reuseIdle', 'lease', 'poll']);
  const tls = r.string(['delivery', 'tls'], 'opportunistic');
  if (!['opportunistic', 'required', 'none'].includes(tls)) {
    r.problem(['delivery', 'tls'], 'must be opportunistic, required or none');
  }
  return {
    port: r.integer(['delivery', 'port'], 25, 1, 65535),
    tls: tls as DeliveryConfig['tls'],
    concurrency: r.integer(['delivery', 'concurrency'], 20, 1),
    perNextHop: r.integer(['delivery', 'perNextHop'], 4, 1),
    mtaSts: r.boolean(['delivery', 'mtaSts'], true),
    reuseIdleMs: r.duration(['delivery', 'reuseIdle'], 5000),
    leaseMs: r.duration(['delivery', 'lease'], 10 * 60_000),
    pollMs: r.duration(['delivery', 'poll'], 1000),
  };
}
