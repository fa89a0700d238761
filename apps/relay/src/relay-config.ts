// The relay's configuration: one YAML file (relay.example.yaml documents every key) with
// `MAILYARD_*` environment overrides, validated with one schema that reports every problem at
// once with its path and line. Files it names (TLS, DKIM keys, users, rules) are read here, so
// `--check-config` finds a missing or unusable file before anything listens. The sections every
// MTA shares (hostname, dataDir, queue, dns, tls, smarthosts, delivery, admin, log) are read by
// readMtaSections of @mailyard/service, as the forwarder reads them; the rest are the relay's.

import { createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { compileRules, formatProblem, type Router } from '@mailyard/rules';
import {
  ConfigError,
  type HostPort,
  type MtaConfig,
  openConfig,
  type ParseConfigOptions,
  parseHostPort,
  readCheckSpecs,
  readConfigText,
  readMtaSections,
} from '@mailyard/service';
import { type CheckSpec, normalizeDomain } from '@mailyard/smtp';
import { FORWARDER_ONLY_MESSAGE, forwarderOnlyPaths, forwarderOnlyProblems } from './forwarder-actions.ts';
import { checkNetwork } from './network-list.ts';

export type { HostPort, SmarthostConfig } from '@mailyard/service';

export interface TrustedListenerConfig extends HostPort {
  readonly networks: readonly string[];
}

export interface DkimKeyConfig {
  readonly domain: string;
  readonly selector: string;
  readonly privateKey: string;
}

/** The sections every MTA shares (@mailyard/service) and the relay's own keys. */
export interface RelayConfig extends MtaConfig {
  readonly file: string;
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
  /** Check modules to load (the same ones the forwarder loads). */
  readonly checks: readonly CheckSpec[];
}

/** MTA_SECTIONS of @mailyard/service and the relay's own keys, in the order problems list them. */
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
  'checks',
];

export type ParseRelayConfigOptions = ParseConfigOptions;

/** Parses and validates; throws ConfigError with every problem. */
export function parseRelayConfig(text: string, options: ParseRelayConfigOptions): RelayConfig {
  const { source, reader: r, files } = openConfig(text, { ...options, known: TOP });

  // Problems come in this order: the shared sections, then the relay's own keys.
  const shared = readMtaSections(r, {
    file: options.file,
    ...(options.defaultHostname !== undefined ? { defaultHostname: options.defaultHostname } : {}),
  });

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
  if (usersFile !== null && !existsSync(files.path(usersFile)))
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
    const privateKey = files.read(['dkim', i, 'key'], keyFile);
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

  let router: Router | null = null;
  if (r.has(['rules'])) {
    const value = r.get(['rules']);
    const names = Object.keys(shared.smarthosts);
    if (typeof value === 'string') {
      const text = files.read(['rules'], value);
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

  const checks = readCheckSpecs(r, (path) => source.where(path));

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    ...shared,
    file: options.file,
    listeners: { submission, submissions, trusted },
    localDomains,
    usersFile: usersFile === null ? null : files.path(usersFile),
    grants,
    authThrottle,
    dkim,
    router,
    checks,
  };
}

/** Reads and validates the file at `path`; throws ConfigError with every problem. */
export function readRelayConfig(path: string, env?: NodeJS.ProcessEnv): RelayConfig {
  return parseRelayConfig(readConfigText(path), { file: path, ...(env ? { env } : {}) });
}
