// The relay's configuration: one YAML file (relay.example.yaml documents every key) with
// `MAILYARD_*` environment overrides, validated with one schema that reports every problem at
// once with its path and line. Files it names (TLS, DKIM keys, users, rules) are read here, so
// `--check-config` finds a missing or unusable file before anything listens.

import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { compileRules, formatProblem, type Router } from '@mailyard/rules';
import { normalizeDomain } from '@mailyard/smtp';
import { loadConfigFile } from './config-file.ts';
import { ConfigError, createConfigReader } from './config-reader.ts';
import { FORWARDER_ONLY_MESSAGE, forwarderOnlyPaths, forwarderOnlyProblems } from './forwarder-actions.ts';
import { checkNetwork } from './network-list.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface TrustedListenerConfig extends HostPort {
  readonly networks: readonly string[];
}

export interface SmarthostConfig {
  readonly host: string;
  readonly port?: number;
  readonly tls: 'starttls' | 'implicit' | 'none';
  readonly username: string | null;
  readonly password: string | null;
  readonly verifyCertificate: boolean;
}

export interface DkimKeyConfig {
  readonly domain: string;
  readonly selector: string;
  readonly privateKey: string;
}

export interface RelayConfig {
  readonly file: string;
  readonly hostname: string;
  readonly dataDir: string;
  readonly queue: {
    readonly url: string | null;
    readonly schema: string | null;
    readonly retry: readonly number[] | null;
    readonly lifetimeMs: number | null;
    readonly delayNoticeMs: number;
    readonly maxMessageSize: number;
  };
  readonly dns: { readonly servers: readonly string[] };
  readonly tls: { readonly cert: string; readonly key: string } | null;
  readonly listeners: {
    readonly submission: HostPort | null;
    readonly submissions: HostPort | null;
    readonly trusted: TrustedListenerConfig | null;
  };
  readonly localDomains: readonly string[];
  readonly usersFile: string | null;
  /** User name -> granted senders: `user@domain` or a whole `domain` (`*@domain`), `*` for any. */
  readonly grants: ReadonlyMap<string, readonly string[]>;
  readonly authThrottle: {
    readonly maxFailuresPerIp: number;
    readonly maxFailuresPerUser: number;
    readonly windowMs: number;
  };
  readonly dkim: readonly DkimKeyConfig[];
  readonly router: Router | null;
  readonly smarthosts: Readonly<Record<string, SmarthostConfig>>;
  readonly delivery: {
    readonly port: number;
    readonly tls: 'opportunistic' | 'required' | 'none';
    readonly concurrency: number;
    readonly perNextHop: number;
    readonly mtaSts: boolean;
    readonly reuseIdleMs: number;
    readonly leaseMs: number;
    readonly pollMs: number;
  };
  readonly admin: (HostPort & { readonly token: string }) | null;
  readonly log: { readonly level: string };
}

const TOP = [
  'hostname',
  'dataDir',
  'queue',
  'dns',
  'tls',
  'listeners',
  'localDomains',
  'users',
  'dkim',
  'rules',
  'smarthosts',
  'delivery',
  'admin',
  'log',
];

function parseHostPort(text: string): HostPort | string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) return `${text} is not host:port`;
  return { host: match[1] ?? match[2] ?? '', port };
}

export interface ParseRelayConfigOptions {
  /** Shown in problems and the base of relative paths. */
  readonly file: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Hostname when the file names none. */
  readonly defaultHostname?: string;
}

/** Parses and validates; throws ConfigError with every problem. */
export function parseRelayConfig(text: string, options: ParseRelayConfigOptions): RelayConfig {
  const source = loadConfigFile(text, {
    file: options.file,
    known: TOP,
    ...(options.env ? { env: options.env } : {}),
  });
  // A file that does not parse has no schema problems worth reporting yet.
  if (source.problems.length > 0) throw new ConfigError(source.problems);
  const r = createConfigReader(source);
  const base = dirname(resolve(options.file));
  const pathOf = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  const readText = (path: (string | number)[], file: string | null): string | null => {
    if (file === null) return null;
    try {
      return readFileSync(pathOf(file), 'utf8');
    } catch (error) {
      r.problem(path, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return null;
    }
  };
  r.keys([], TOP);

  const hostname = r.string(['hostname'], options.defaultHostname ?? 'localhost');
  const dataDir = pathOf(r.string(['dataDir'], './data'));

  r.keys(['queue'], ['url', 'schema', 'retry', 'lifetime', 'delayNotice', 'maxMessageSize']);
  const url = r.optionalString(['queue', 'url']);
  if (url !== null && !/^postgres(?:ql)?:\/\//.test(url))
    r.problem(['queue', 'url'], 'must be a postgres:// URL');
  const retryCount = r.length(['queue', 'retry']);
  const retry =
    retryCount > 0
      ? Array.from({ length: retryCount }, (_, i) => r.duration(['queue', 'retry', i], 0))
      : null;
  const queue = {
    url,
    schema: r.optionalString(['queue', 'schema']),
    retry,
    lifetimeMs: r.has(['queue', 'lifetime']) ? r.duration(['queue', 'lifetime'], 0) : null,
    delayNoticeMs: r.duration(['queue', 'delayNotice'], 4 * 3_600_000),
    maxMessageSize: r.integer(['queue', 'maxMessageSize'], 25 * 1024 * 1024, 1024),
  };

  r.keys(['dns'], ['servers']);
  const servers = r.strings(['dns', 'servers'], []);
  servers.forEach((server, i) => {
    const host = /^\[(.+)\](?::\d+)?$/.exec(server)?.[1] ?? server.replace(/:\d+$/, '');
    if (isIP(host) === 0) r.problem(['dns', 'servers', i], `${server} is not ip[:port]`);
  });

  r.keys(['tls'], ['cert', 'key']);
  let tls: RelayConfig['tls'] = null;
  if (r.has(['tls'])) {
    const cert = readText(['tls', 'cert'], r.optionalString(['tls', 'cert']));
    const key = readText(['tls', 'key'], r.optionalString(['tls', 'key']));
    if (!r.has(['tls', 'cert'])) r.problem(['tls', 'cert'], 'is required with tls');
    if (!r.has(['tls', 'key'])) r.problem(['tls', 'key'], 'is required with tls');
    if (cert && key) tls = { cert, key };
  }

  r.keys(['listeners'], ['submission', 'submissions', 'trusted']);
  const listener = (name: string): HostPort | null => {
    if (!r.has(['listeners', name])) return null;
    r.keys(['listeners', name], name === 'trusted' ? ['listen', 'networks'] : ['listen']);
    const listen = r.optionalString(['listeners', name, 'listen']);
    if (listen === null) {
      r.problem(['listeners', name, 'listen'], 'is required (host:port)');
      return null;
    }
    const parsed = parseHostPort(listen);
    if (typeof parsed === 'string') {
      r.problem(['listeners', name, 'listen'], parsed);
      return null;
    }
    return parsed;
  };
  const submission = listener('submission');
  const submissions = listener('submissions');
  const trustedAt = listener('trusted');
  let trusted: TrustedListenerConfig | null = null;
  if (trustedAt) {
    const networks = r.strings(['listeners', 'trusted', 'networks'], ['127.0.0.0/8', '::1/128']);
    networks.forEach((n, i) => {
      const bad = checkNetwork(n);
      if (bad) r.problem(['listeners', 'trusted', 'networks', i], bad);
    });
    trusted = { ...trustedAt, networks };
  }
  if (
    !r.has(['listeners', 'submission']) &&
    !r.has(['listeners', 'submissions']) &&
    !r.has(['listeners', 'trusted'])
  ) {
    r.problem(['listeners'], 'at least one of submission, submissions, trusted is required');
  }
  if ((submission || submissions) && !r.has(['tls'])) {
    r.problem(['tls'], 'submission listeners need a certificate (AUTH is only offered over TLS)');
  }

  const localDomains = r.strings(['localDomains'], []).flatMap((d, i) => {
    try {
      return [normalizeDomain(d)];
    } catch {
      r.problem(['localDomains', i], `${d} is not a domain`);
      return [];
    }
  });

  r.keys(['users'], ['file', 'grants', 'throttle']);
  const usersFile = r.optionalString(['users', 'file']);
  if (usersFile !== null && !existsSync(pathOf(usersFile)))
    r.problem(['users', 'file'], `${usersFile} does not exist`);
  if ((submission || submissions) && usersFile === null) {
    r.problem(['users', 'file'], 'is required: submission listeners need users (mailyard relay adduser)');
  }
  const grants = new Map<string, string[]>();
  for (const user of r.entries(['users', 'grants'])) {
    grants.set(
      user,
      r.strings(['users', 'grants', user], []).map((g) => g.toLowerCase().replace(/^\*@/, '')),
    );
  }
  r.keys(['users', 'throttle'], ['maxFailuresPerIp', 'maxFailuresPerUser', 'window']);
  const authThrottle = {
    maxFailuresPerIp: r.integer(['users', 'throttle', 'maxFailuresPerIp'], 10, 1),
    maxFailuresPerUser: r.integer(['users', 'throttle', 'maxFailuresPerUser'], 5, 1),
    windowMs: r.duration(['users', 'throttle', 'window'], 15 * 60_000),
  };

  const dkim: DkimKeyConfig[] = [];
  const dkimCount = r.length(['dkim']);
  for (let i = 0; i < dkimCount; i++) {
    r.keys(['dkim', i], ['domain', 'selector', 'key']);
    const domain = r.optionalString(['dkim', i, 'domain']);
    const selector = r.optionalString(['dkim', i, 'selector']);
    const keyFile = r.optionalString(['dkim', i, 'key']);
    for (const k of ['domain', 'selector', 'key'] as const) {
      if (!r.has(['dkim', i, k])) r.problem(['dkim', i, k], 'is required');
    }
    const privateKey = readText(['dkim', i, 'key'], keyFile);
    if (privateKey) {
      try {
        const key = createPrivateKey(privateKey);
        const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
        if (key.asymmetricKeyType === 'rsa' && bits < 2048) {
          r.problem(['dkim', i, 'key'], `RSA key of ${bits} bits: DKIM needs 2048 or more (RFC 8301)`);
        } else if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') {
          r.problem(['dkim', i, 'key'], `${key.asymmetricKeyType} keys cannot sign DKIM: use ed25519 or rsa`);
        }
      } catch {
        r.problem(['dkim', i, 'key'], `${keyFile} is not a PEM private key`);
      }
    }
    if (domain && selector && privateKey) dkim.push({ domain: domain.toLowerCase(), selector, privateKey });
  }

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

  let router: Router | null = null;
  if (r.has(['rules'])) {
    const value = r.get(['rules']);
    const names = Object.keys(smarthosts);
    if (typeof value === 'string') {
      const text = readText(['rules'], value);
      if (text !== null) {
        r.problems.push(...forwarderOnlyProblems(text, value));
        const compiled = compileRules(text, { file: value, smarthosts: names });
        if (compiled.ok) router = compiled.router;
        else
          for (const p of compiled.problems.filter((x) => x.severity === 'error'))
            r.problems.push(formatProblem(p));
      }
    } else if (Array.isArray(value)) {
      for (const path of forwarderOnlyPaths(value, ['rules'])) r.problem(path, FORWARDER_ONLY_MESSAGE);
      const compiled = compileRules({ rules: value }, { smarthosts: names });
      if (compiled.ok) router = compiled.router;
      else {
        for (const p of compiled.problems.filter((x) => x.severity === 'error')) {
          const index = /^rules\[(\d+)\]/.exec(p.path)?.[1];
          r.problem(index === undefined ? ['rules'] : ['rules', Number(index)], `${p.path}: ${p.message}`);
        }
      }
    } else r.problem(['rules'], 'must be a rules file name or a list of rules');
  }

  r.keys(['delivery'], ['port', 'tls', 'concurrency', 'perNextHop', 'mtaSts', 'reuseIdle', 'lease', 'poll']);
  const deliveryTls = r.string(['delivery', 'tls'], 'opportunistic');
  if (!['opportunistic', 'required', 'none'].includes(deliveryTls)) {
    r.problem(['delivery', 'tls'], 'must be opportunistic, required or none');
  }
  const delivery = {
    port: r.integer(['delivery', 'port'], 25, 1, 65535),
    tls: deliveryTls as RelayConfig['delivery']['tls'],
    concurrency: r.integer(['delivery', 'concurrency'], 20, 1),
    perNextHop: r.integer(['delivery', 'perNextHop'], 4, 1),
    mtaSts: r.boolean(['delivery', 'mtaSts'], true),
    reuseIdleMs: r.duration(['delivery', 'reuseIdle'], 5000),
    leaseMs: r.duration(['delivery', 'lease'], 10 * 60_000),
    pollMs: r.duration(['delivery', 'poll'], 1000),
  };

  let admin: RelayConfig['admin'] = null;
  if (r.has(['admin'])) {
    r.keys(['admin'], ['listen', 'token', 'tokenFile']);
    const listen = parseHostPort(r.string(['admin', 'listen'], '127.0.0.1:8026'));
    if (typeof listen === 'string') r.problem(['admin', 'listen'], listen);
    const tokenFile = r.optionalString(['admin', 'tokenFile']);
    const token =
      r.optionalString(['admin', 'token']) ?? readText(['admin', 'tokenFile'], tokenFile)?.trim() ?? null;
    if (!token) r.problem(['admin', 'token'], 'a bearer token (token or tokenFile) is required');
    else if (token.length < 16) r.problem(['admin', 'token'], 'must be at least 16 characters');
    if (typeof listen !== 'string' && token) admin = { ...listen, token };
  }

  r.keys(['log'], ['level']);
  const level = r.string(['log', 'level'], 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    r.problem(['log', 'level'], 'must be one of fatal, error, warn, info, debug, trace, silent');
  }

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    file: options.file,
    hostname,
    dataDir,
    queue,
    dns: { servers },
    tls,
    listeners: { submission, submissions, trusted },
    localDomains,
    usersFile: usersFile === null ? null : pathOf(usersFile),
    grants,
    authThrottle,
    dkim,
    router,
    smarthosts,
    delivery,
    admin,
    log: { level },
  };
}

/** Reads and validates the file at `path`; throws ConfigError with every problem. */
export function readRelayConfig(path: string, env?: NodeJS.ProcessEnv): RelayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
  return parseRelayConfig(text, { file: path, ...(env ? { env } : {}) });
}
