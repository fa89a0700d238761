// Drivers for the public conformance suites in ../shared/testdata, read in place (never copied):
// each suite's zone data becomes a fixture resolver, following that folder's SOURCE.md.
// Test support only: excluded from the build.

import { readdirSync, readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { parseAllDocuments } from 'yaml';
import { dnsError, type Resolver } from '../dns.ts';

export const TESTDATA = new URL('../../../../../shared/testdata/', import.meta.url);

export function testdata(path: string): string {
  return new URL(path, TESTDATA).pathname;
}

export function readTestdata(path: string): string {
  return readFileSync(testdata(path), 'utf8');
}

/** The DNS name of the PTR record for an IP address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const [head = '', tail = ''] = ip.split('::');
  const groups = (part: string) => (part ? part.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const nibbles = all.map((g) => g.padStart(4, '0')).join('');
  return `${[...nibbles].reverse().join('.')}.ip6.arpa`;
}

// ---- openspf / pyspf (RFC 7208, RFC 4408) ----

export interface SpfCase {
  readonly scenario: string;
  readonly name: string;
  readonly helo: string;
  readonly host: string;
  readonly mailfrom: string;
  readonly results: readonly string[];
  readonly resolver: Resolver;
}

type ZoneEntry = 'TIMEOUT' | Readonly<Record<string, unknown>>;

/** pyspf's test DNS (test/testspf.py): SPF copied to TXT unless TXT is explicit, TIMEOUT, CNAME. */
function openSpfResolver(zonedata: Readonly<Record<string, readonly ZoneEntry[]>>): Resolver {
  const zone = new Map<string, ZoneEntry[]>();
  for (const [name, entries] of Object.entries(zonedata ?? {})) {
    const list = [...(entries ?? [])];
    const hasTxt = list.some((e) => e !== 'TIMEOUT' && 'TXT' in e);
    if (!hasTxt) for (const e of entries ?? []) if (e !== 'TIMEOUT' && 'SPF' in e) list.push({ TXT: e.SPF });
    zone.set(name.toLowerCase(), list);
  }
  const lookup = async (name: string, type: string, depth: number): Promise<unknown[]> => {
    const key = name.toLowerCase().replace(/\.$/, '');
    if (key.startsWith('error.')) throw dnsError('ETIMEOUT', name, type);
    const entries = zone.get(key);
    if (!entries) throw dnsError('ENOTFOUND', name, type);
    const answers: unknown[] = [];
    for (const entry of entries) {
      if (entry === 'TIMEOUT') {
        if (answers.length === 0) throw dnsError('ETIMEOUT', name, type);
        continue;
      }
      const [[rtype, value]] = Object.entries(entry) as [[string, unknown]];
      if (rtype === 'CNAME' && type !== 'CNAME') {
        if (depth > 8) throw dnsError('ESERVFAIL', name, type);
        return lookup(String(value), type, depth + 1);
      }
      if (rtype !== type) continue;
      if (type === 'TXT') {
        if (value === 'NONE') continue;
        answers.push(Array.isArray(value) ? value.map(String) : [String(value)]);
      } else if (type === 'MX') {
        const [priority, exchange] = value as [number, string];
        answers.push({ priority, exchange });
      } else {
        answers.push(String(value));
      }
    }
    if (answers.length === 0) throw dnsError('ENODATA', name, type);
    return answers;
  };
  return (name, type) => lookup(name, type.toUpperCase(), 0);
}

export function loadOpenSpf(file: 'rfc7208-tests.yml' | 'rfc4408-tests.yml'): SpfCase[] {
  const cases: SpfCase[] = [];
  for (const doc of parseAllDocuments(readTestdata(`openspf-rfc7208/${file}`))) {
    const scenario = doc.toJS() as {
      description: string;
      tests: Record<string, { helo: string; host: string; mailfrom: string; result: string | string[] }>;
      zonedata: Record<string, ZoneEntry[]>;
    } | null;
    if (!scenario?.tests) continue;
    const resolver = openSpfResolver(scenario.zonedata);
    for (const [name, test] of Object.entries(scenario.tests)) {
      cases.push({
        scenario: scenario.description,
        name,
        helo: String(test.helo),
        host: String(test.host),
        mailfrom: String(test.mailfrom ?? ''),
        results: ([] as string[]).concat(test.result),
        resolver,
      });
    }
  }
  return cases;
}

// ---- Stalwart SPF (line based, not strict YAML) ----

/** Stalwart's SPF scenarios: `spf:`/`exp:` TXT, `a:`/`aaaa:`/`mx:`/`ptr:` lines; `_dns_error.` fails. */
export function loadStalwartSpf(): SpfCase[] {
  const cases: SpfCase[] = [];
  const dir = testdata('stalwart-mail-auth/spf/');
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(`${dir}${file}`, 'utf8');
    for (const block of text.split(/^---\s*$/m)) {
      const records = new Map<string, Map<string, unknown[]>>();
      const set = (name: string, type: string, answers: unknown[]) => {
        const key = name.toLowerCase();
        if (!records.has(key)) records.set(key, new Map());
        records.get(key)?.set(type, answers);
      };
      let scenario = '';
      let mxCount = 0;
      let current: { helo: string; mailfrom: string; host: string } = { helo: '', mailfrom: '', host: '' };
      const tests: { helo: string; mailfrom: string; host: string; expect: string; resolver: Resolver }[] =
        [];
      // Each test sees the records as they stand at its line: later lines replace earlier ones.
      const snapshot = (): Resolver => {
        const frozen = new Map([...records].map(([name, byType]) => [name, new Map(byType)]));
        return async (name, type) => {
          const key = name.toLowerCase().replace(/\.$/, '');
          if (key.includes('_dns_error.') || key.startsWith('_dns_error'))
            throw dnsError('ESERVFAIL', name, type);
          const byType = frozen.get(key);
          if (!byType) throw dnsError('ENOTFOUND', name, type);
          const answers = byType.get(type.toUpperCase());
          if (!answers) throw dnsError('ENODATA', name, type);
          return answers;
        };
      };
      for (const raw of block.split('\n')) {
        const line = raw.replace(/^\s*-\s+/, '  ').trim();
        if (line.startsWith('#') || line === '') continue;
        const match = /^([a-z]+):\s*(.*)$/.exec(line);
        if (!match) continue;
        const [, key = '', rest = ''] = match;
        const space = rest.indexOf(' ');
        const name = space < 0 ? rest : rest.slice(0, space);
        const value = space < 0 ? '' : rest.slice(space + 1).trim();
        switch (key) {
          case 'name':
            scenario = rest;
            break;
          case 'spf':
          case 'exp':
            set(name, 'TXT', [[value]]);
            break;
          case 'a':
            set(
              name,
              'A',
              value.split(',').map((v) => v.trim()),
            );
            break;
          case 'aaaa':
            set(
              name,
              'AAAA',
              value.split(',').map((v) => v.trim()),
            );
            break;
          case 'ptr':
            set(
              reverseName(name),
              'PTR',
              value.split(',').map((v) => v.trim()),
            );
            break;
          case 'mx': {
            const ips = value.split(',').map((v) => v.trim());
            const exchanges = ips.map((ip, pos) => {
              const exchange = `mx${++mxCount}-${pos}.mx-fixture.test`;
              set(exchange, isIPv4(ip) ? 'A' : 'AAAA', [ip]);
              return { priority: pos, exchange };
            });
            set(name, 'MX', exchanges);
            break;
          }
          case 'domain':
            current = { ...current, helo: rest };
            break;
          case 'sender':
            current = { ...current, mailfrom: rest };
            break;
          case 'ip':
            current = { ...current, host: rest };
            break;
          case 'expect':
            tests.push({ ...current, expect: rest.split(' ')[0] ?? '', resolver: snapshot() });
            break;
        }
      }
      tests.forEach((test, index) => {
        cases.push({
          scenario: `${file}: ${scenario}`,
          name: `${file}#${cases.length + 1} ${scenario} [${index + 1}]`,
          helo: test.helo,
          host: test.host,
          mailfrom: test.mailfrom,
          results: [test.expect],
          resolver: test.resolver,
        });
      });
    }
  }
  return cases;
}

// ---- Stalwart DKIM / ARC messages ----

export interface MessageCase {
  readonly name: string;
  readonly message: Buffer;
  readonly resolver: Resolver;
}

/** "name TXT-record" lines, a blank line, then the message (LF converted to CRLF). */
export function loadStalwartMessages(kind: 'dkim' | 'arc'): MessageCase[] {
  const dir = testdata(`stalwart-mail-auth/${kind}/`);
  return readdirSync(dir)
    .sort()
    .map((file) => {
      const text = readFileSync(`${dir}${file}`, 'utf8');
      const split = text.indexOf('\n\n');
      const zone: Record<string, string> = {};
      for (const line of text.slice(0, split).split('\n')) {
        const space = line.indexOf(' ');
        if (space > 0) zone[line.slice(0, space).toLowerCase()] = line.slice(space + 1).trim();
      }
      const message = Buffer.from(text.slice(split + 2).replace(/\r?\n/g, '\r\n'), 'utf8');
      return { name: file, message, resolver: txtResolver(zone) };
    });
}

/** A resolver with TXT records only. */
export function txtResolver(zone: Readonly<Record<string, string>>): Resolver {
  const table = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
  return async (name, type) => {
    const value = table.get(name.toLowerCase().replace(/\.$/, ''));
    if (value === undefined) throw dnsError('ENOTFOUND', name, type);
    if (type.toUpperCase() !== 'TXT') throw dnsError('ENODATA', name, type);
    return [[value]];
  };
}

// ---- ValiMail ARC validation ----

export interface ArcCase {
  readonly scenario: string;
  readonly name: string;
  readonly message: Buffer;
  /** Expected chain validation status, lower case: `pass`, `fail` or `none` (`""` is fail). */
  readonly cv: 'pass' | 'fail' | 'none';
  readonly resolver: Resolver;
}

export function loadValimailArc(): ArcCase[] {
  const cases: ArcCase[] = [];
  const text = readTestdata('valimail-arc-test-suite/arc-draft-validation-tests.yml');
  for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
    const scenario = doc.toJS() as {
      description: string;
      tests: Record<string, { message: string; cv: string }>;
      'txt-records': Record<string, string>;
    } | null;
    if (!scenario?.tests) continue;
    const resolver = txtResolver(
      Object.fromEntries(
        Object.entries(scenario['txt-records'] ?? {}).map(([k, v]) => [k, String(v).replace(/\s+/g, '')]),
      ),
    );
    for (const [name, test] of Object.entries(scenario.tests)) {
      const cv = String(test.cv ?? '').toLowerCase();
      cases.push({
        scenario: scenario.description,
        name,
        message: Buffer.from(String(test.message ?? '').replace(/\r?\n/g, '\r\n'), 'utf8'),
        cv: cv === 'pass' ? 'pass' : cv === 'none' ? 'none' : 'fail',
        resolver,
      });
    }
  }
  return cases;
}
