// The sink's configuration from command-line flags (Mailpit's names where Mailpit has the
// option) and `MAILYARD_*` environment variables (flag `--max-age` <-> `MAILYARD_MAX_AGE`;
// flags win). Every problem is reported at once, with the flag it concerns.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface SinkConfig {
  readonly smtp: HostPort;
  readonly listen: HostPort;
  readonly database: string;
  readonly max: number;
  readonly maxAgeMs: number;
  readonly smtpAuth: 'none' | 'accept-any' | 'credentials';
  readonly smtpCredentials: ReadonlyMap<string, string>;
  readonly smtpAuthRequired: boolean;
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly requireStarttls: boolean;
  readonly implicitTls: boolean;
  readonly uiAuth: ReadonlyMap<string, string>;
  readonly maxMessageSize: number;
  readonly relay: string | null;
  readonly relayAll: boolean;
  readonly relayMatching: string | null;
  readonly dnsServers: readonly string[];
  readonly verdicts: boolean;
  readonly label: string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const FLAGS = {
  smtp: { type: 'string' },
  listen: { type: 'string' },
  database: { type: 'string', short: 'd' },
  max: { type: 'string', short: 'm' },
  'max-age': { type: 'string' },
  'smtp-auth-accept-any': { type: 'boolean' },
  'smtp-auth-file': { type: 'string' },
  'smtp-auth-allow-insecure': { type: 'boolean' },
  'smtp-auth-required': { type: 'boolean' },
  'smtp-tls-cert': { type: 'string' },
  'smtp-tls-key': { type: 'string' },
  'smtp-require-starttls': { type: 'boolean' },
  'smtp-require-tls': { type: 'boolean' },
  'ui-auth': { type: 'string' },
  'ui-auth-file': { type: 'string' },
  'max-message-size': { type: 'string' },
  relay: { type: 'string' },
  'smtp-relay-all': { type: 'boolean' },
  'smtp-relay-matching': { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  'no-verdicts': { type: 'boolean' },
  label: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const USAGE = `Usage: mailyard sink [options]

Catches every message sent to its SMTP port and shows it in a web UI and a Mailpit/MailHog API.
Every option can also be set as MAILYARD_<NAME> (e.g. MAILYARD_MAX_AGE=7d); flags win.

  --smtp ADDR:PORT            SMTP listener (default 127.0.0.1:1025)
  --listen ADDR:PORT          HTTP listener for the UI and API (default 127.0.0.1:8025)
  -d, --database FILE         SQLite file (default ./.mailyard/sink.db; :memory: for none)
  -m, --max N                 messages kept, oldest pruned (default 500, 0 = unlimited)
  --max-age AGE               prune messages older than AGE (e.g. 90m, 24h, 7d)
  --smtp-auth-accept-any      offer SMTP AUTH and accept any user and password
  --smtp-auth-file FILE       offer SMTP AUTH with these credentials (lines "user:password")
  --smtp-auth-required        refuse mail before AUTH
  --smtp-tls-cert FILE        certificate (PEM) for STARTTLS
  --smtp-tls-key FILE         its private key (PEM)
  --smtp-require-starttls     refuse mail before STARTTLS
  --smtp-require-tls          implicit TLS (SMTPS) on the SMTP listener
  --ui-auth USER:PASSWORD     basic auth for the UI and API
  --ui-auth-file FILE         basic auth credentials (lines "user:password")
  --max-message-size BYTES    largest message accepted (default 104857600; k/m suffix)
  --relay URL                 SMTP server for release (smtp://user:pass@host:port)
  --smtp-relay-all            also forward every caught message to --relay
  --smtp-relay-matching RE    forward caught messages whose recipient matches RE to --relay
  --dns-server IP[:PORT]      DNS server for authentication verdicts (repeatable)
  --no-verdicts               do not compute SPF/DKIM/DMARC/ARC verdicts
  --label TEXT                label shown by the UI
`;

function hostPort(text: string, name: string, problems: string[]): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    problems.push(`--${name}: expected ADDR:PORT, got '${text}'`);
    return { host: '127.0.0.1', port: 0 };
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** `90m`, `24h`, `7d`, `1w`, or a bare number of hours (as Mailpit). */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? 'h').toLowerCase();
  const factor = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[unit] ?? 3600e3;
  return Math.round(Number(match[1]) * factor);
}

function parseBytes(text: string): number | null {
  const match = /^(\d+)\s*(k|kb|m|mb|g|gb)?$/i.exec(text.trim());
  if (!match) return null;
  const unit = (match[2] ?? '').toLowerCase()[0];
  return Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1);
}

function credentialLines(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const colon = trimmed.indexOf(':');
    if (colon > 0) map.set(trimmed.slice(0, colon), trimmed.slice(colon + 1));
  }
  return map;
}

/** Parses flags and env. Returns `'help'` for --help; throws ConfigError listing every problem. */
export function parseSinkConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd = process.cwd(),
): SinkConfig | 'help' {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError([error instanceof Error ? error.message : String(error)]);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help) return 'help';
  const problems: string[] = [];
  if (parsed.positionals.length > 0) problems.push(`unexpected argument '${parsed.positionals[0]}'`);
  const get = (name: keyof typeof FLAGS): string | undefined => {
    const value = values[name];
    if (typeof value === 'string') return value;
    const fromEnv = env[`MAILYARD_${name.toUpperCase().replace(/-/g, '_')}`];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const flag = (name: keyof typeof FLAGS): boolean => {
    if (values[name] === true) return true;
    const fromEnv = get(name);
    return fromEnv !== undefined && /^(1|true|yes|on)$/i.test(fromEnv);
  };
  const readFile = (name: keyof typeof FLAGS): string | null => {
    const path = get(name);
    if (!path) return null;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      problems.push(`--${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return null;
    }
  };

  const max = Number(get('max') ?? '500');
  if (!Number.isInteger(max) || max < 0) problems.push(`--max: expected a whole number, got '${get('max')}'`);
  const maxAgeText = get('max-age');
  const maxAgeMs = maxAgeText ? parseDuration(maxAgeText) : 0;
  if (maxAgeMs === null) problems.push(`--max-age: expected e.g. 90m, 24h or 7d, got '${maxAgeText}'`);
  const sizeText = get('max-message-size');
  const maxMessageSize = sizeText ? parseBytes(sizeText) : 100 * 1024 * 1024;
  if (maxMessageSize === null)
    problems.push(`--max-message-size: expected bytes (k/m suffix), got '${sizeText}'`);

  const authFile = readFile('smtp-auth-file');
  const smtpAuth = authFile !== null ? 'credentials' : flag('smtp-auth-accept-any') ? 'accept-any' : 'none';
  const uiAuth = new Map<string, string>();
  const uiAuthText = get('ui-auth');
  if (uiAuthText) {
    const colon = uiAuthText.indexOf(':');
    if (colon <= 0) problems.push('--ui-auth: expected USER:PASSWORD');
    else uiAuth.set(uiAuthText.slice(0, colon), uiAuthText.slice(colon + 1));
  }
  const uiAuthFile = readFile('ui-auth-file');
  if (uiAuthFile !== null) for (const [user, pass] of credentialLines(uiAuthFile)) uiAuth.set(user, pass);

  const tlsCert = get('smtp-tls-cert') ?? null;
  const tlsKey = get('smtp-tls-key') ?? null;
  if ((tlsCert === null) !== (tlsKey === null))
    problems.push('--smtp-tls-cert and --smtp-tls-key go together');
  const requireStarttls = flag('smtp-require-starttls');
  const implicitTls = flag('smtp-require-tls');
  if ((requireStarttls || implicitTls) && tlsCert === null) {
    problems.push(
      `--smtp-require-${implicitTls ? 'tls' : 'starttls'} needs --smtp-tls-cert and --smtp-tls-key`,
    );
  }
  const relay = get('relay') ?? null;
  if (relay) {
    try {
      new URL(/^[a-z]+:\/\//i.test(relay) ? relay : `smtp://${relay}`);
    } catch {
      problems.push(`--relay: expected smtp://[user:pass@]host:port, got '${relay}'`);
    }
  }
  const relayMatching = get('smtp-relay-matching') ?? null;
  if (relayMatching) {
    try {
      new RegExp(relayMatching, 'i');
    } catch {
      problems.push(`--smtp-relay-matching: not a regular expression: '${relayMatching}'`);
    }
  }
  const relayAll = flag('smtp-relay-all');
  if ((relayAll || relayMatching) && !relay)
    problems.push('--smtp-relay-all/--smtp-relay-matching need --relay');
  const dnsFlag = values['dns-server'];
  const dnsServers = Array.isArray(dnsFlag)
    ? dnsFlag
    : (get('dns-server') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

  const config: SinkConfig = {
    smtp: hostPort(get('smtp') ?? '127.0.0.1:1025', 'smtp', problems),
    listen: hostPort(get('listen') ?? '127.0.0.1:8025', 'listen', problems),
    database: get('database') ?? join(cwd, '.mailyard', 'sink.db'),
    max,
    maxAgeMs: maxAgeMs ?? 0,
    smtpAuth,
    smtpCredentials: authFile !== null ? credentialLines(authFile) : new Map(),
    smtpAuthRequired: flag('smtp-auth-required'),
    tlsCert,
    tlsKey,
    requireStarttls,
    implicitTls,
    uiAuth,
    maxMessageSize: maxMessageSize ?? 0,
    relay,
    relayAll,
    relayMatching,
    dnsServers,
    verdicts: !flag('no-verdicts'),
    label: get('label') ?? '',
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
