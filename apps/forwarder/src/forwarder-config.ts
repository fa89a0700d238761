// The forwarder's configuration: one YAML file (forwarder.example.yaml documents every key) with
// `MAILYARD_*` environment overrides, validated with one schema that reports every problem at once
// with its path and line. The sections every MTA shares (queue, dns, tls, delivery, admin, log…)
// are read by @mailyard/service exactly as the relay reads them; the keys below are the forwarder's.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { ArcKey } from '@mailyard/auth';
import { compileRules, formatProblem, type Router } from '@mailyard/rules';
import {
  ConfigError,
  type ConfigFiles,
  type ConfigPath,
  type ConfigReader,
  type HostPort,
  loadConfigFile,
  MTA_SECTIONS,
  type MtaConfig,
  openConfig,
  type ParseConfigOptions,
  parseHostPort,
  readCheckSpecs,
  readConfigText,
  readMtaSections,
} from '@mailyard/service';
import { type CheckSpec, normalizeDomain } from '@mailyard/smtp';
import type { DmarcEnforcement } from './dmarc-policy.ts';
import type { SubaddressOptions } from './subaddress.ts';
import type { WebhookEndpoint } from './webhook-courier.ts';

export interface ForwarderConfig extends MtaConfig {
  readonly file: string;
  readonly listen: HostPort;
  /** Lower case; the SRS domain is always among them. */
  readonly domains: readonly string[];
  readonly srs: { readonly domain: string; readonly secrets: readonly string[]; readonly maxAgeDays: number };
  readonly arc: ArcKey | null;
  readonly dmarc: DmarcEnforcement;
  readonly limits: {
    readonly maxRecipients: number;
    readonly connectionsPerMinute: number | null;
    readonly messagesPerMinute: number | null;
  };
  readonly subaddress: SubaddressOptions;
  readonly router: Router;
  readonly webhooks: ReadonlyMap<string, WebhookEndpoint>;
  readonly destinations: { readonly verify: boolean; readonly publicUrl: string | null };
  readonly checks: readonly CheckSpec[];
}

const TOP = [
  ...MTA_SECTIONS,
  'listen',
  'domains',
  'srs',
  'arc',
  'dmarc',
  'limits',
  'subaddressing',
  'rules',
  'webhooks',
  'destinations',
  'checks',
];

/** The rule actions a forwarder carries out; `deliver` and `relay` are the relay's. */
const FORWARDER_ACTIONS = new Set(['forward', 'webhook', 'drop', 'reject', 'hold']);
const ACTION_KEYS = ['forward', 'deliver', 'relay', 'drop', 'reject', 'hold', 'webhook'];

function domainList(r: ConfigReader, path: (string | number)[]): string[] {
  return r.strings(path, []).flatMap((d, i) => {
    try {
      return [normalizeDomain(d)];
    } catch {
      r.problem([...path, i], `${d} is not a domain`);
      return [];
    }
  });
}

function readSrs(r: ConfigReader, files: ConfigFiles, domains: string[]) {
  r.keys(['srs'], ['domain', 'secrets', 'secretFile', 'maxAge']);
  const domain = (r.optionalString(['srs', 'domain']) ?? domains[0] ?? '').toLowerCase();
  if (!domain) r.problem(['srs', 'domain'], 'is required (or list domains)');
  const fromFile = files.read(['srs', 'secretFile'], r.optionalString(['srs', 'secretFile']));
  const secrets = fromFile
    ? fromFile
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter(Boolean)
    : r.strings(['srs', 'secrets'], []);
  if (secrets.length === 0) r.problem(['srs', 'secrets'], 'at least one secret is required (or secretFile)');
  secrets.forEach((s, i) => {
    if (s.length < 16) r.problem(['srs', 'secrets', i], 'must be at least 16 characters');
  });
  const maxAgeDays = Math.max(1, Math.round(r.duration(['srs', 'maxAge'], 21 * 86_400_000) / 86_400_000));
  return { domain, secrets, maxAgeDays };
}

function readArc(r: ConfigReader, files: ConfigFiles): ArcKey | null {
  if (!r.has(['arc'])) return null;
  r.keys(['arc'], ['domain', 'selector', 'key']);
  for (const k of ['domain', 'selector', 'key'] as const)
    if (!r.has(['arc', k])) r.problem(['arc', k], 'is required');
  const pem = files.read(['arc', 'key'], r.optionalString(['arc', 'key']));
  // Parsed once here: every seal uses the same key object.
  let privateKey: KeyObject | null = null;
  if (pem) {
    try {
      privateKey = createPrivateKey(pem);
    } catch {
      r.problem(['arc', 'key'], 'is not a PEM private key');
    }
  }
  if (privateKey) {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (privateKey.asymmetricKeyType === 'rsa' && bits < 2048)
      r.problem(['arc', 'key'], `RSA key of ${bits} bits: ARC needs 2048 or more`);
    else if (privateKey.asymmetricKeyType !== 'rsa' && privateKey.asymmetricKeyType !== 'ed25519')
      r.problem(['arc', 'key'], `${privateKey.asymmetricKeyType} keys cannot seal ARC: use rsa or ed25519`);
  }
  const domain = r.optionalString(['arc', 'domain']);
  const selector = r.optionalString(['arc', 'selector']);
  return domain && selector && privateKey ? { domain: domain.toLowerCase(), selector, privateKey } : null;
}

function readWebhooks(r: ConfigReader): Map<string, WebhookEndpoint> {
  const webhooks = new Map<string, WebhookEndpoint>();
  for (const name of r.entries(['webhooks'])) {
    const p = ['webhooks', name];
    r.keys(p, ['url', 'secret', 'timeout']);
    const url = r.optionalString([...p, 'url']);
    if (url === null || !/^https?:\/\/[^/]/.test(url))
      r.problem([...p, 'url'], 'an http(s):// URL is required');
    const secret = r.optionalString([...p, 'secret']);
    if (secret === null || secret.length < 16)
      r.problem([...p, 'secret'], 'a secret of 16 characters or more is required');
    webhooks.set(name, {
      url: url ?? '',
      secret: secret ?? '',
      timeoutMs: r.duration([...p, 'timeout'], 15_000),
    });
  }
  return webhooks;
}

/** Problems for rule actions the forwarder does not carry out. */
function unsupportedActions(r: ConfigReader, rules: unknown, where: (path: ConfigPath) => string): void {
  if (!Array.isArray(rules)) return;
  rules.forEach((rule: unknown, index) => {
    if (rule === null || typeof rule !== 'object') return;
    for (const key of ACTION_KEYS)
      if (key in rule && !FORWARDER_ACTIONS.has(key))
        r.problems.push(
          `${where(['rules', index, key])}: rules[${index}].${key}: the forwarder only forwards, calls webhooks, drops, rejects or holds (${key} is the relay's)`,
        );
  });
}

function readRules(
  r: ConfigReader,
  files: ConfigFiles,
  webhooks: string[],
  where: (path: ConfigPath) => string,
): Router | null {
  const value = r.get(['rules']);
  if (value === undefined || value === null) {
    r.problem(['rules'], 'is required: a rules file name or a list of rules');
    return null;
  }
  if (typeof value === 'string') {
    const text = files.read(['rules'], value);
    if (text === null) return null;
    const source = loadConfigFile(text, { file: value, env: {} });
    unsupportedActions(r, source.value.rules, (path) => source.where(path));
    const compiled = compileRules(text, { file: value, webhooks, smarthosts: [] });
    if (compiled.ok) return compiled.router;
    for (const p of compiled.problems.filter((x) => x.severity === 'error'))
      r.problems.push(formatProblem(p));
    return null;
  }
  if (!Array.isArray(value)) {
    r.problem(['rules'], 'must be a rules file name or a list of rules');
    return null;
  }
  unsupportedActions(r, value, where);
  const compiled = compileRules({ rules: value }, { webhooks, smarthosts: [] });
  if (compiled.ok) return compiled.router;
  for (const p of compiled.problems.filter((x) => x.severity === 'error')) {
    const index = /^rules\[(\d+)\]/.exec(p.path)?.[1];
    r.problem(index === undefined ? ['rules'] : ['rules', Number(index)], `${p.path}: ${p.message}`);
  }
  return null;
}

export type ParseForwarderConfigOptions = ParseConfigOptions;

/** Parses and validates; throws ConfigError with every problem. */
export function parseForwarderConfig(text: string, options: ParseForwarderConfigOptions): ForwarderConfig {
  const { source, reader: r, files } = openConfig(text, { ...options, known: TOP });
  const where = (path: ConfigPath) => source.where(path);
  const mta = readMtaSections(r, {
    file: options.file,
    ...(options.defaultHostname ? { defaultHostname: options.defaultHostname } : {}),
    defaultAdminListen: '127.0.0.1:8027',
  });
  const listen = parseHostPort(r.string(['listen'], '0.0.0.0:25'));
  if (typeof listen === 'string') r.problem(['listen'], listen);
  const domains = domainList(r, ['domains']);
  if (domains.length === 0) r.problem(['domains'], 'at least one domain to receive for is required');
  const srs = readSrs(r, files, domains);
  const dmarc = r.string(['dmarc'], 'reject');
  if (!['reject', 'quarantine', 'ignore'].includes(dmarc))
    r.problem(['dmarc'], 'must be reject, quarantine or ignore');
  r.keys(['limits'], ['maxRecipients', 'connectionsPerMinute', 'messagesPerMinute']);
  const perMinute = (key: string, fallback: number) => {
    const value = r.integer(['limits', key], fallback, 0);
    return value === 0 ? null : value;
  };
  const limits = {
    maxRecipients: r.integer(['limits', 'maxRecipients'], 50, 1),
    connectionsPerMinute: perMinute('connectionsPerMinute', 60),
    messagesPerMinute: perMinute('messagesPerMinute', 120),
  };
  const keepTag = r.boolean(['subaddressing', 'keepTag'], false);
  r.keys(['subaddressing'], ['separator', 'keepTag']);
  const separator =
    r.has(['subaddressing', 'separator']) || r.get(['subaddressing', 'separator']) === null
      ? r.optionalString(['subaddressing', 'separator'])
      : '+';
  if (separator !== null && !/^[+\-_.=]$/.test(separator))
    r.problem(['subaddressing', 'separator'], 'must be one of + - _ . = (or null for none)');
  const webhooks = readWebhooks(r);
  const router = readRules(r, files, [...webhooks.keys()], where);
  r.keys(['destinations'], ['verify', 'publicUrl']);
  const verify = r.boolean(['destinations', 'verify'], false);
  const publicUrl = r.optionalString(['destinations', 'publicUrl']);
  if (verify && mta.admin === null)
    r.problem(['destinations', 'verify'], 'needs the admin listener (it serves the confirmation links)');
  const arc = readArc(r, files);
  const checks = readCheckSpecs(r, where);
  if (r.problems.length > 0 || router === null || typeof listen === 'string')
    throw new ConfigError(r.problems);
  return {
    ...mta,
    file: options.file,
    listen,
    domains: [...new Set([...domains, srs.domain])],
    srs,
    arc,
    dmarc: dmarc as DmarcEnforcement,
    limits,
    subaddress: { separator, keepTag },
    router,
    webhooks,
    destinations: { verify, publicUrl },
    checks,
  };
}

/** Reads and validates the file at `path`; throws ConfigError with every problem. */
export function readForwarderConfig(path: string, env?: NodeJS.ProcessEnv): ForwarderConfig {
  return parseForwarderConfig(readConfigText(path), { file: path, ...(env ? { env } : {}) });
}
