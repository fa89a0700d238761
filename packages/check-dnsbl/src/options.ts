// The options of the DNSBL check, as they arrive from an app's config (unknown), validated into
// a typed form. Every problem is reported at once, each with its path under the host's config
// path (`checks[0].options.zones[1].codes[0]`), as one CheckConfigError.

import { CheckConfigError, type CheckConfigIssue } from '@mailyard/smtp';
import { type CodeRange, parseCodeRange } from './return-codes.ts';

export interface DnsblZoneOptions {
  /** The list's zone, e.g. `zen.spamhaus.org`. */
  readonly zone: string;
  /**
   * The answers that count as a listing: addresses or ranges (`127.0.0.2-127.0.0.11`). Default:
   * any answer in 127.0.0.0/8 but 127.0.0.1. 127.255.255.0/24 (error answers) never counts.
   */
  readonly codes?: readonly string[];
}

export type DnsblStage = 'connect' | 'mail' | 'rcpt';
export type DomainTarget = 'mailFrom' | 'helo';

export interface DnsblOptions {
  /** IP block lists, asked about the client's address. */
  readonly zones?: readonly (string | DnsblZoneOptions)[];
  /** Domain block lists (RHSBL), asked about the MAIL FROM domain and the HELO name. */
  readonly domainZones?: readonly (string | DnsblZoneOptions)[];
  /** Which domains the domain lists are asked about. Default both. */
  readonly domains?: readonly DomainTarget[];
  /** `reject` (default) refuses with 554 5.7.1; `tag` lets mail through with a tag. */
  readonly action?: 'reject' | 'tag';
  /**
   * Where `reject` happens. Default `rcpt`: late enough to let `exempt` recipients through
   * and to skip authenticated clients. At `connect`, a listed client IP is refused before the
   * greeting (domain listings are then refused at MAIL).
   */
  readonly stage?: DnsblStage;
  /** Local parts always accepted at RCPT (RFC 5321 §4.5.1, RFC 2142). Default postmaster, abuse. */
  readonly exempt?: readonly string[];
  /** Authenticated clients (submission) are not checked at MAIL and RCPT. Default true. */
  readonly skipAuthenticated?: boolean;
  /** Time limit of one lookup (A and TXT); a lookup that overruns counts as not listed. Default 5000. */
  readonly timeoutMs?: number;
}

export interface ZoneConfig {
  readonly zone: string;
  /** `null`: any valid listing code. */
  readonly codes: readonly CodeRange[] | null;
}

export interface DnsblConfig {
  readonly zones: readonly ZoneConfig[];
  readonly domainZones: readonly ZoneConfig[];
  readonly domains: readonly DomainTarget[];
  readonly action: 'reject' | 'tag';
  readonly stage: DnsblStage;
  /** Lower-case. */
  readonly exempt: readonly string[];
  readonly skipAuthenticated: boolean;
  readonly timeoutMs: number;
}

const KEYS = new Set([
  'zones',
  'domainZones',
  'domains',
  'action',
  'stage',
  'exempt',
  'skipAuthenticated',
  'timeoutMs',
]);
const ZONE_KEYS = new Set(['zone', 'codes']);
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function zoneName(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const zone = value.toLowerCase().replace(/\.$/, '');
  if (zone.length === 0 || zone.length > 200) return null;
  return zone.split('.').every((label) => LABEL.test(label)) ? zone : null;
}

function parseZones(value: unknown, path: string, issues: CheckConfigIssue[]): ZoneConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push({ path, message: 'must be a list of zones' });
    return [];
  }
  const zones: ZoneConfig[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `${path}[${i}]`;
    const spec = typeof entry === 'string' ? { zone: entry } : entry;
    if (!isRecord(spec)) {
      issues.push({ path: at, message: 'must be a zone name or { zone, codes }' });
      return;
    }
    for (const key of Object.keys(spec)) {
      if (!ZONE_KEYS.has(key)) issues.push({ path: `${at}.${key}`, message: 'unknown key' });
    }
    const zone = zoneName(spec.zone);
    const zoneAt = typeof entry === 'string' ? at : `${at}.zone`;
    if (zone === null)
      issues.push({ path: zoneAt, message: `${JSON.stringify(spec.zone)} is not a DNS zone name` });
    else if (zones.some((seen) => seen.zone === zone))
      issues.push({ path: zoneAt, message: `${zone} is listed twice` });
    let codes: CodeRange[] | null = null;
    if (spec.codes !== undefined) {
      if (!Array.isArray(spec.codes) || spec.codes.length === 0) {
        issues.push({ path: `${at}.codes`, message: 'must be a non-empty list of addresses or ranges' });
      } else {
        codes = [];
        for (const [j, code] of spec.codes.entries()) {
          const range =
            typeof code === 'string' ? parseCodeRange(code) : `${JSON.stringify(code)} is not a string`;
          if (typeof range === 'string') issues.push({ path: `${at}.codes[${j}]`, message: range });
          else codes.push(range);
        }
      }
    }
    if (zone !== null) zones.push({ zone, codes });
  });
  return zones;
}

function oneOf<T extends string>(
  value: unknown,
  allowed: readonly T[],
  fallback: T,
  path: string,
  issues: CheckConfigIssue[],
): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  issues.push({ path, message: `must be one of ${allowed.join(', ')}` });
  return fallback;
}

function stringList(
  value: unknown,
  fallback: readonly string[],
  path: string,
  issues: CheckConfigIssue[],
): string[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    issues.push({ path, message: 'must be a list of non-empty strings' });
    return [...fallback];
  }
  return value as string[];
}

/** Validates `options` (found at `path` in the host's config) or throws CheckConfigError. */
export function parseDnsblOptions(options: unknown, path: string): DnsblConfig {
  const issues: CheckConfigIssue[] = [];
  if (!isRecord(options)) throw new CheckConfigError([{ path, message: 'must be an object with zones' }]);
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) issues.push({ path: `${path}.${key}`, message: 'unknown key' });
  }
  const zones = parseZones(options.zones, `${path}.zones`, issues);
  const domainZones = parseZones(options.domainZones, `${path}.domainZones`, issues);
  if (options.zones === undefined && options.domainZones === undefined) {
    issues.push({ path: `${path}.zones`, message: 'name at least one list (zones or domainZones)' });
  }
  const domains = stringList(options.domains, ['mailFrom', 'helo'], `${path}.domains`, issues);
  for (const [i, domain] of domains.entries()) {
    if (domain !== 'mailFrom' && domain !== 'helo') {
      issues.push({ path: `${path}.domains[${i}]`, message: 'must be mailFrom or helo' });
    }
  }
  const action = oneOf(options.action, ['reject', 'tag'] as const, 'reject', `${path}.action`, issues);
  const stage = oneOf(options.stage, ['connect', 'mail', 'rcpt'] as const, 'rcpt', `${path}.stage`, issues);
  if (options.stage !== undefined && action === 'tag') {
    issues.push({ path: `${path}.stage`, message: 'applies to action reject only (tags are set at MAIL)' });
  }
  const exempt = stringList(options.exempt, ['postmaster', 'abuse'], `${path}.exempt`, issues);
  let skipAuthenticated = true;
  if (options.skipAuthenticated !== undefined) {
    if (typeof options.skipAuthenticated === 'boolean') skipAuthenticated = options.skipAuthenticated;
    else issues.push({ path: `${path}.skipAuthenticated`, message: 'must be true or false' });
  }
  let timeoutMs = 5_000;
  if (options.timeoutMs !== undefined) {
    const value = options.timeoutMs;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 60_000)
      timeoutMs = value;
    else
      issues.push({
        path: `${path}.timeoutMs`,
        message: 'must be an integer from 1 to 60000 (milliseconds)',
      });
  }
  if (issues.length > 0) throw new CheckConfigError(issues);
  return {
    zones,
    domainZones,
    domains: domains as DomainTarget[],
    action,
    stage,
    exempt: exempt.map((local) => local.toLowerCase()),
    skipAuthenticated,
    timeoutMs,
  };
}
