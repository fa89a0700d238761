// The one schema of the rule language. It validates a configuration given as plain data (parsed
// from YAML or built in code), reports every problem at once with its path, and turns each rule
// into a typed RuleSpec for the compiler. The field table RULE_FIELDS is the schema: a key not in
// it is an unknown key, and each entry parses one key's value.
// Addresses follow RFC 5321 §4.1.2 (via parseAddress), reply codes RFC 5321 §4.2 and enhanced
// status codes RFC 3463 §2 (class digit equals the reply's first digit).

import { type Address, normalizeDomain, parseAddress } from '@mailyard/smtp';
import { compileGlob, type Glob, starCount } from './glob.ts';
import { type Cidr, parseCidr } from './ip.ts';
import { compileSafeRegex, type SafeRegex } from './safe-regex.ts';
import type { AuthMethod } from './types.ts';
import type { Path } from './yaml-source.ts';

export interface RawProblem {
  readonly severity: 'error' | 'warning';
  readonly path: Path;
  readonly message: string;
  /** Point at the mapping key (unknown keys) rather than the value. */
  readonly atKey?: boolean;
}

export type RecipientPattern =
  | { readonly kind: 'exact'; readonly key: string }
  | { readonly kind: 'subaddress'; readonly base: string }
  | {
      readonly kind: 'glob';
      readonly local: Glob;
      readonly domain: Glob;
      readonly literalDomain: string | null;
    }
  | { readonly kind: 'regex'; readonly regex: SafeRegex; readonly literalDomain: string | null }
  | { readonly kind: 'domain'; readonly domain: string }
  | { readonly kind: 'any' };

export interface RecipientSpec {
  readonly source: string;
  readonly path: Path;
  readonly pattern: RecipientPattern;
  readonly captures: number;
}

export type SenderPattern =
  | { readonly kind: 'null' }
  | { readonly kind: 'exact'; readonly key: string }
  | { readonly kind: 'domain'; readonly domain: string }
  | { readonly kind: 'glob'; readonly local: Glob; readonly domain: Glob };

export interface SenderSpec {
  readonly source: string;
  readonly pattern: SenderPattern;
}

export type HeaderTest =
  | { readonly kind: 'equals'; readonly value: string }
  | { readonly kind: 'contains'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: SafeRegex }
  | { readonly kind: 'present'; readonly present: boolean };

export interface HeaderSpec {
  readonly name: string;
  readonly test: HeaderTest;
  readonly source: string;
}

/** A forward destination: literal text and capture numbers (`$1`…`$9`) in order. */
export interface Template {
  readonly source: string;
  readonly parts: readonly (string | number)[];
  /** Set when the template has no captures: the address, parsed once. */
  readonly fixed: Address | null;
}

export interface RejectSpec {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

export interface RuleSpec {
  readonly index: number;
  readonly name: string | null;
  readonly recipients: readonly RecipientSpec[];
  readonly senders: readonly SenderSpec[] | null;
  readonly clientIps: readonly Cidr[] | null;
  readonly authUsers: readonly string[] | null;
  readonly authenticated: boolean | null;
  readonly size: { readonly min: number | null; readonly max: number | null } | null;
  readonly auth: readonly { readonly method: AuthMethod; readonly values: readonly string[] }[] | null;
  readonly headers: readonly HeaderSpec[] | null;
  readonly forward: readonly Template[] | null;
  readonly keepTag: boolean;
  readonly deliver: boolean;
  readonly relay: string | null;
  readonly drop: boolean;
  readonly reject: RejectSpec | null;
  readonly hold: string | null | false;
  readonly webhook: string | null;
  readonly stop: boolean;
  /** Canonical text of the non-recipient conditions, to find duplicates and shadowing. */
  readonly conditionKey: string;
}

export interface SchemaOptions {
  readonly smarthosts?: readonly string[] | undefined;
  readonly webhooks?: readonly string[] | undefined;
}

export const AUTH_METHODS: readonly AuthMethod[] = ['spf', 'dkim', 'dmarc', 'arc'];
export const AUTH_RESULTS = [
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
  'policy',
] as const;

const DEFAULT_REJECT: RejectSpec = { code: 550, enhanced: '5.7.1', text: 'Recipient address rejected' };

class Reporter {
  readonly problems: RawProblem[] = [];
  errors = 0;
  error(path: Path, message: string, atKey = false): undefined {
    this.errors++;
    this.problems.push({ severity: 'error', path, message, atKey });
    return undefined;
  }
  warning(path: Path, message: string): void {
    this.problems.push({ severity: 'warning', path, message });
  }
}

type Fields = Record<string, unknown>;

function isRecord(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** A value written either alone or as a list: `x` or `[x, y]`. */
function oneOrMany(
  value: unknown,
  path: Path,
  report: Reporter,
  what: string,
): [unknown, Path][] | undefined {
  if (Array.isArray(value)) {
    if (value.length === 0) return report.error(path, `expected ${what}, got an empty list`);
    return value.map((item, i) => [item, [...path, i]]);
  }
  return [[value, path]];
}

function stringAt(value: unknown, path: Path, report: Reporter, what: string): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    return report.error(path, `expected ${what} (a non-empty string), got ${describe(value)}`);
  }
  return value.trim();
}

function trueAt(value: unknown, path: Path, report: Reporter, key: string): boolean | undefined {
  if (value !== true)
    return report.error(path, `'${key}' takes the value true (remove the key to turn it off)`);
  return true;
}

function addressProblem(text: string, error: unknown): string {
  const reason = error instanceof Error ? error.message.replace(/^Bad address syntax: /, '') : String(error);
  return `'${text}' is not a valid address: ${reason}`;
}

/** Which domain a regex can only ever end in, if that can be read off its source safely. */
function literalRegexDomain(source: string): string | null {
  // Sound only without alternation: `a@x\.com|.*` would otherwise be indexed under x.com.
  if (source.includes('|')) return null;
  const match = /@((?:[A-Za-z0-9-]|\\\.)+)\$?$/.exec(source);
  if (!match?.[1]) return null;
  const domain = match[1].replace(/\\\./g, '.').toLowerCase();
  try {
    return normalizeDomain(domain) === domain ? domain : null;
  } catch {
    return null;
  }
}

function globPartOk(text: string, allowed: RegExp): boolean {
  return text.length > 0 && allowed.test(text.replace(/\*/g, ''));
}

export function parseRecipient(text: string, path: Path, report: Reporter): RecipientSpec | undefined {
  const source = text;
  if (text === '*') return { source, path, pattern: { kind: 'any' }, captures: 0 };
  if (text.length >= 2 && text.startsWith('/') && text.endsWith('/')) {
    const regex = compileSafeRegex(text.slice(1, -1));
    if (typeof regex === 'string') return report.error(path, `${regex} (in '${text}')`);
    const literalDomain = literalRegexDomain(regex.source);
    return { source, path, pattern: { kind: 'regex', regex, literalDomain }, captures: regex.groups };
  }
  const at = text.lastIndexOf('@');
  if (at < 0) {
    return report.error(
      path,
      /^[^\s/]+\.[^\s/]+$/.test(text)
        ? `'${text}' is not an address; write '*@${text}' to match every address at that domain`
        : `'${text}' is not an address, '*@domain', a wildcard, '/regex/' or '*'`,
    );
  }
  const local = text.slice(0, at);
  const domainText = text.slice(at + 1);
  if (domainText.includes('*') || (local.includes('*') && local !== '*' && !/^[^*+]+\+\*$/.test(local))) {
    if (!globPartOk(local, /^[^\s@"]*$/) || !globPartOk(domainText, /^[A-Za-z0-9.-]*$/)) {
      return report.error(path, `'${text}' is not a valid wildcard pattern`);
    }
    const localGlob = compileGlob(local);
    const domainGlob = compileGlob(domainText);
    return {
      source,
      path,
      pattern: {
        kind: 'glob',
        local: localGlob,
        domain: domainGlob,
        literalDomain: domainText.includes('*') ? null : domainText.toLowerCase(),
      },
      captures: starCount(localGlob) + starCount(domainGlob),
    };
  }
  let domain: string;
  try {
    domain = normalizeDomain(domainText);
  } catch (error) {
    return report.error(path, addressProblem(text, error));
  }
  if (local === '*') return { source, path, pattern: { kind: 'domain', domain }, captures: 0 };
  const subaddress = /^([^*+]+)\+\*$/.exec(local);
  const checked = subaddress ? `${subaddress[1]}@${domain}` : text;
  let address: Address;
  try {
    address = parseAddress(checked, { smtputf8: true });
  } catch (error) {
    return report.error(path, addressProblem(text, error));
  }
  const key = `${address.localPart.toLowerCase()}@${address.domain}`;
  if (subaddress) return { source, path, pattern: { kind: 'subaddress', base: key }, captures: 1 };
  return { source, path, pattern: { kind: 'exact', key }, captures: 0 };
}

function parseSender(text: string, path: Path, report: Reporter): SenderSpec | undefined {
  if (text === '<>') return { source: text, pattern: { kind: 'null' } };
  const at = text.lastIndexOf('@');
  if (at < 0) {
    return report.error(
      path,
      /^[^\s]+\.[^\s]+$/.test(text)
        ? `'${text}' is not an address; write '*@${text}' for every sender at that domain, '<>' for the null sender`
        : `'${text}' is not a sender address, '*@domain', a wildcard or '<>' (the null sender)`,
    );
  }
  const local = text.slice(0, at);
  const domainText = text.slice(at + 1);
  if (local === '*' && !domainText.includes('*')) {
    try {
      return { source: text, pattern: { kind: 'domain', domain: normalizeDomain(domainText) } };
    } catch (error) {
      return report.error(path, addressProblem(text, error));
    }
  }
  if (text.includes('*')) {
    if (!globPartOk(local, /^[^\s@"]*$/) || !globPartOk(domainText, /^[A-Za-z0-9.-]*$/)) {
      return report.error(path, `'${text}' is not a valid wildcard pattern`);
    }
    return {
      source: text,
      pattern: { kind: 'glob', local: compileGlob(local), domain: compileGlob(domainText) },
    };
  }
  try {
    const address = parseAddress(text, { smtputf8: true });
    return {
      source: text,
      pattern: { kind: 'exact', key: `${address.localPart.toLowerCase()}@${address.domain}` },
    };
  } catch (error) {
    return report.error(path, addressProblem(text, error));
  }
}

/** Parses `$1`…`$9` and `$$` in a forward destination; any other `$` is literal (it is atext). */
function parseTemplate(text: string): { parts: (string | number)[]; maxCapture: number } {
  const parts: (string | number)[] = [];
  let literal = '';
  let maxCapture = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '$' && next !== undefined && next >= '1' && next <= '9') {
      if (literal) parts.push(literal);
      literal = '';
      parts.push(Number(next));
      maxCapture = Math.max(maxCapture, Number(next));
      i++;
    } else if (ch === '$' && next === '$') {
      literal += '$';
      i++;
    } else {
      literal += ch;
    }
  }
  if (literal) parts.push(literal);
  return { parts, maxCapture };
}

function parseReject(value: unknown, path: Path, report: Reporter): RejectSpec | undefined {
  if (value === true) return DEFAULT_REJECT;
  if (!isRecord(value)) {
    return report.error(path, `expected true or a mapping {code, enhanced, text}, got ${describe(value)}`);
  }
  let ok = true;
  for (const key of Object.keys(value)) {
    if (!['code', 'enhanced', 'text'].includes(key)) {
      ok = false;
      report.error([...path, key], `unknown key '${key}' (expected code, enhanced, text)`, true);
    }
  }
  const code = value.code ?? 550;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 400 || code > 599) {
    report.error(
      [...path, 'code'],
      `reply code must be 4xx (temporary) or 5xx (permanent), got ${describe(code)}`,
    );
    ok = false;
  }
  const klass = ok ? String(code)[0] : '5';
  const enhanced = value.enhanced ?? `${klass}.7.1`;
  if (typeof enhanced !== 'string' || !/^[45]\.\d{1,3}\.\d{1,3}$/.test(enhanced)) {
    report.error(
      [...path, 'enhanced'],
      `enhanced status code must look like 5.7.1 (RFC 3463), got ${describe(enhanced)}`,
    );
    ok = false;
  } else if (ok && enhanced[0] !== klass) {
    report.error(
      [...path, 'enhanced'],
      `enhanced status ${enhanced} does not fit reply code ${code}: its class must be ${klass}.x.x`,
    );
    ok = false;
  }
  const text = value.text ?? DEFAULT_REJECT.text;
  if (typeof text !== 'string' || !/^[\x20-\x7e]{1,200}$/.test(text)) {
    report.error([...path, 'text'], 'reply text must be 1 to 200 printable ASCII characters on one line');
    ok = false;
  }
  return ok ? { code: code as number, enhanced: enhanced as string, text: text as string } : undefined;
}

function parseHeaders(value: unknown, path: Path, report: Reporter): HeaderSpec[] | undefined {
  const items = oneOrMany(value, path, report, 'a header test or a list of them');
  if (!items) return undefined;
  const out: HeaderSpec[] = [];
  for (const [item, itemPath] of items) {
    if (!isRecord(item)) {
      report.error(
        itemPath,
        `expected a mapping {name, equals|contains|regex|present}, got ${describe(item)}`,
      );
      continue;
    }
    const tests = ['equals', 'contains', 'regex', 'present'].filter((key) => key in item);
    for (const key of Object.keys(item)) {
      if (!['name', 'equals', 'contains', 'regex', 'present'].includes(key)) {
        report.error(
          [...itemPath, key],
          `unknown key '${key}' (expected name, equals, contains, regex, present)`,
          true,
        );
      }
    }
    const name = stringAt(item.name, [...itemPath, 'name'], report, 'a header field name');
    if (name !== undefined && !/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
      report.error([...itemPath, 'name'], `'${name}' is not a header field name (RFC 5322 §2.2)`);
    }
    if (tests.length !== 1) {
      report.error(itemPath, 'a header test needs exactly one of equals, contains, regex, present');
      continue;
    }
    const kind = tests[0] as 'equals' | 'contains' | 'regex' | 'present';
    const raw = item[kind];
    const testPath = [...itemPath, kind];
    let test: HeaderTest | undefined;
    if (kind === 'present') {
      if (typeof raw !== 'boolean') report.error(testPath, `expected true or false, got ${describe(raw)}`);
      else test = { kind, present: raw };
    } else if (kind === 'regex') {
      const text = stringAt(raw, testPath, report, 'a regex');
      const regex = text === undefined ? undefined : compileSafeRegex(text);
      if (typeof regex === 'string') report.error(testPath, regex);
      else if (regex) test = { kind, regex };
    } else if (typeof raw !== 'string') {
      report.error(testPath, `expected a string, got ${describe(raw)}`);
    } else {
      test = { kind, value: raw.toLowerCase() };
    }
    if (name !== undefined && test)
      out.push({ name: name.toLowerCase(), test, source: `${name} ${kind} ${String(raw)}` });
  }
  return out;
}

type Draft = { -readonly [K in keyof RuleSpec]?: RuleSpec[K] };

interface FieldContext {
  readonly report: Reporter;
  readonly options: SchemaOptions;
  readonly rule: Fields;
}

/** The schema: every key a rule may have, and how its value is read. */
const RULE_FIELDS: Record<string, (value: unknown, path: Path, draft: Draft, ctx: FieldContext) => void> = {
  name(value, path, draft, { report }) {
    const name = stringAt(value, path, report, 'a rule name');
    if (name !== undefined) draft.name = name;
  },
  recipient(value, path, draft, { report }) {
    const items = oneOrMany(value, path, report, 'a recipient pattern or a list of them');
    if (!items) return;
    const specs: RecipientSpec[] = [];
    const seen = new Map<string, Path>();
    for (const [item, itemPath] of items) {
      const text = stringAt(item, itemPath, report, 'a recipient pattern');
      const spec = text === undefined ? undefined : parseRecipient(text, itemPath, report);
      if (!spec) continue;
      const key = patternKey(spec.pattern);
      if (seen.has(key)) {
        report.warning(itemPath, `'${spec.source}' is listed twice in this rule`);
        continue;
      }
      seen.set(key, itemPath);
      specs.push(spec);
    }
    draft.recipients = specs;
  },
  sender(value, path, draft, { report }) {
    const items = oneOrMany(value, path, report, 'a sender pattern or a list of them');
    if (!items) return;
    const specs: SenderSpec[] = [];
    for (const [item, itemPath] of items) {
      const text = stringAt(item, itemPath, report, "a sender address, '*@domain' or '<>'");
      const spec = text === undefined ? undefined : parseSender(text, itemPath, report);
      if (spec) specs.push(spec);
    }
    draft.senders = specs;
  },
  clientIp(value, path, draft, { report }) {
    const items = oneOrMany(value, path, report, 'an IP address, a CIDR prefix or a list of them');
    if (!items) return;
    const cidrs: Cidr[] = [];
    for (const [item, itemPath] of items) {
      const text = stringAt(item, itemPath, report, 'an IP address or CIDR prefix');
      if (text === undefined) continue;
      const cidr = parseCidr(text);
      if (typeof cidr === 'string') report.error(itemPath, cidr);
      else cidrs.push(cidr);
    }
    draft.clientIps = cidrs;
  },
  authUser(value, path, draft, { report }) {
    const items = oneOrMany(value, path, report, 'an authenticated user name or a list of them');
    if (!items) return;
    const users: string[] = [];
    for (const [item, itemPath] of items) {
      const text = stringAt(item, itemPath, report, 'a user name');
      if (text !== undefined) users.push(text.toLowerCase());
    }
    draft.authUsers = users;
  },
  authenticated(value, path, draft, { report }) {
    if (typeof value !== 'boolean') report.error(path, `expected true or false, got ${describe(value)}`);
    else draft.authenticated = value;
  },
  size(value, path, draft, { report }) {
    if (!isRecord(value))
      return void report.error(path, `expected a mapping {min, max} in octets, got ${describe(value)}`);
    const bound = (key: 'min' | 'max'): number | null => {
      const raw = value[key];
      if (raw === undefined) return null;
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) {
        report.error([...path, key], `expected a whole number of octets, got ${describe(raw)}`);
        return null;
      }
      return raw;
    };
    for (const key of Object.keys(value)) {
      if (key !== 'min' && key !== 'max')
        report.error([...path, key], `unknown key '${key}' (expected min, max)`, true);
    }
    const min = bound('min');
    const max = bound('max');
    if (min === null && max === null) return void report.error(path, 'size needs min, max or both');
    if (min !== null && max !== null && min > max)
      return void report.error(path, `size min ${min} is above max ${max}`);
    draft.size = { min, max };
  },
  auth(value, path, draft, { report }) {
    if (!isRecord(value))
      return void report.error(path, `expected a mapping such as {dmarc: fail}, got ${describe(value)}`);
    const tests: { method: AuthMethod; values: string[] }[] = [];
    for (const [key, raw] of Object.entries(value)) {
      if (!(AUTH_METHODS as readonly string[]).includes(key)) {
        report.error([...path, key], `unknown key '${key}' (expected ${AUTH_METHODS.join(', ')})`, true);
        continue;
      }
      const items = oneOrMany(raw, [...path, key], report, 'a verdict or a list of them') ?? [];
      const values: string[] = [];
      for (const [item, itemPath] of items) {
        if (typeof item !== 'string' || !(AUTH_RESULTS as readonly string[]).includes(item.toLowerCase())) {
          report.error(itemPath, `expected one of ${AUTH_RESULTS.join(', ')}, got ${describe(item)}`);
        } else values.push(item.toLowerCase());
      }
      tests.push({ method: key as AuthMethod, values });
    }
    draft.auth = tests;
  },
  headers(value, path, draft, { report }) {
    const headers = parseHeaders(value, path, report);
    if (headers) draft.headers = headers;
  },
  forward(value, path, draft, { report }) {
    const items = oneOrMany(value, path, report, 'a destination address or a list of them');
    if (!items) return;
    const templates: Template[] = [];
    for (const [item, itemPath] of items) {
      const text = stringAt(item, itemPath, report, 'a destination address');
      if (text === undefined) continue;
      const { parts, maxCapture } = parseTemplate(text);
      // Check the shape with a stand-in for each capture; the real value is checked per message.
      const probe = parts.map((part) => (typeof part === 'number' ? 'x' : part)).join('');
      let fixed: Address | null = null;
      try {
        const address = parseAddress(probe, { smtputf8: true });
        if (maxCapture === 0) fixed = address;
      } catch (error) {
        report.error(itemPath, `destination ${addressProblem(text, error)}`);
        continue;
      }
      templates.push({ source: text, parts, fixed });
    }
    draft.forward = templates;
  },
  keepTag(value, path, draft, { report }) {
    if (typeof value !== 'boolean') report.error(path, `expected true or false, got ${describe(value)}`);
    else draft.keepTag = value;
  },
  deliver(value, path, draft, { report }) {
    if (trueAt(value, path, report, 'deliver')) draft.deliver = true;
  },
  relay(value, path, draft, { report, options }) {
    const name = stringAt(value, path, report, 'a smarthost name');
    if (name === undefined) return;
    if (options.smarthosts && !options.smarthosts.includes(name)) {
      report.error(path, `unknown smarthost '${name}' (known: ${options.smarthosts.join(', ') || 'none'})`);
    }
    draft.relay = name;
  },
  drop(value, path, draft, { report }) {
    if (trueAt(value, path, report, 'drop')) draft.drop = true;
  },
  reject(value, path, draft, { report }) {
    const reject = parseReject(value, path, report);
    if (reject) draft.reject = reject;
  },
  hold(value, path, draft, { report }) {
    if (value === true) draft.hold = null;
    else if (typeof value === 'string' && value.trim() !== '') draft.hold = value.trim();
    else report.error(path, `expected true or a reason (string), got ${describe(value)}`);
  },
  webhook(value, path, draft, { report, options }) {
    const name = stringAt(value, path, report, 'a webhook endpoint name');
    if (name === undefined) return;
    if (options.webhooks && !options.webhooks.includes(name)) {
      report.error(path, `unknown webhook '${name}' (known: ${options.webhooks.join(', ') || 'none'})`);
    }
    draft.webhook = name;
  },
  continue(value, path, draft, { report }) {
    if (typeof value !== 'boolean') report.error(path, `expected true or false, got ${describe(value)}`);
    else draft.stop = !value;
  },
};

export const RULE_KEYS: readonly string[] = Object.keys(RULE_FIELDS);

export function patternKey(pattern: RecipientPattern): string {
  switch (pattern.kind) {
    case 'exact':
      return `exact:${pattern.key}`;
    case 'subaddress':
      return `sub:${pattern.base}`;
    case 'glob':
      return `glob:${pattern.local.segments.join('*')}@${pattern.domain.segments.join('*')}`;
    case 'regex':
      return `regex:${pattern.regex.source}`;
    case 'domain':
      return `domain:${pattern.domain}`;
    case 'any':
      return 'any';
  }
}

/** The condition key of a rule without conditions (shared: most rules have none). */
export const NO_CONDITIONS = '[null,null,null,null,null,null,null]';

function conditionKey(draft: Draft): string {
  const key = JSON.stringify([
    draft.senders?.map((s) => s.source.toLowerCase()).sort() ?? null,
    draft.clientIps?.map((c) => `${c.version}:${c.base}/${c.bits}`).sort() ?? null,
    draft.authUsers ? [...draft.authUsers].sort() : null,
    draft.authenticated ?? null,
    draft.size ?? null,
    draft.auth?.map((a) => `${a.method}=${[...a.values].sort()}`).sort() ?? null,
    draft.headers?.map((h) => h.source.toLowerCase()).sort() ?? null,
  ]);
  return key === NO_CONDITIONS ? NO_CONDITIONS : key;
}

/** Levenshtein distance, for "did you mean" hints on unknown keys (keys are short). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

const ACTION_KEYS = ['forward', 'deliver', 'relay', 'drop', 'reject', 'hold', 'webhook'] as const;
const EXCLUSIVE = ['drop', 'reject', 'hold'] as const;

function parseRule(
  value: unknown,
  index: number,
  report: Reporter,
  options: SchemaOptions,
): RuleSpec | undefined {
  const path: Path = ['rules', index];
  if (!isRecord(value)) return report.error(path, `expected a rule (a mapping), got ${describe(value)}`);
  const before = report.errors;
  const draft: Draft = {};
  const ctx: FieldContext = { report, options, rule: value };
  for (const [key, raw] of Object.entries(value)) {
    const field = RULE_FIELDS[key];
    if (!field) {
      const hint = RULE_KEYS.find(
        (known) => editDistance(known.toLowerCase(), key.toLowerCase().replace(/[-_]/g, '')) <= 2,
      );
      report.error(
        [...path, key],
        `unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; a rule has ${RULE_KEYS.join(', ')}`,
        true,
      );
      continue;
    }
    field(raw, [...path, key], draft, ctx);
  }
  if (!('recipient' in value)) report.error(path, "missing 'recipient' (write '*' to match every recipient)");
  const present = ACTION_KEYS.filter((key) => key in value);
  if (present.length === 0) {
    report.error(path, `a rule needs an action: one of ${ACTION_KEYS.join(', ')}`);
  }
  for (const key of EXCLUSIVE) {
    if (key in value && present.length > 1) {
      report.error(
        [...path, key],
        `'${key}' cannot be combined with ${present.filter((k) => k !== key).join(', ')}`,
      );
    }
    if (key in value && value.continue === true) {
      report.error([...path, 'continue'], `a rule that says '${key}' ends evaluation; it cannot continue`);
    }
  }
  if (draft.keepTag && !('forward' in value))
    report.error([...path, 'keepTag'], "'keepTag' only applies to 'forward'");
  if (draft.forward && draft.recipients) {
    for (const [i, template] of draft.forward.entries()) {
      const max = Math.max(0, ...template.parts.filter((p): p is number => typeof p === 'number'));
      for (const recipient of draft.recipients) {
        if (max > recipient.captures) {
          report.error(
            [...path, 'forward', ...(Array.isArray(value.forward) ? [i] : [])],
            `'${template.source}' uses $${max} but recipient pattern '${recipient.source}' captures ${recipient.captures === 0 ? 'nothing' : `only ${recipient.captures}`}`,
          );
        }
      }
    }
  }
  if (report.errors > before || !draft.recipients) return undefined;
  return {
    index,
    name: draft.name ?? null,
    recipients: draft.recipients,
    senders: draft.senders ?? null,
    clientIps: draft.clientIps ?? null,
    authUsers: draft.authUsers ?? null,
    authenticated: draft.authenticated ?? null,
    size: draft.size ?? null,
    auth: draft.auth ?? null,
    headers: draft.headers ?? null,
    forward: draft.forward ?? null,
    keepTag: draft.keepTag ?? false,
    deliver: draft.deliver ?? false,
    relay: draft.relay ?? null,
    drop: draft.drop ?? false,
    reject: draft.reject ?? null,
    hold: draft.hold === undefined ? false : draft.hold,
    webhook: draft.webhook ?? null,
    stop: draft.stop ?? true,
    conditionKey: conditionKey(draft),
  };
}

export interface SchemaResult {
  readonly rules: readonly RuleSpec[];
  readonly problems: readonly RawProblem[];
}

/** Validates a whole configuration `{ rules: [...] }`; every problem is reported, none thrown. */
export function validateConfig(value: unknown, options: SchemaOptions = {}): SchemaResult {
  const report = new Reporter();
  const rules: RuleSpec[] = [];
  if (!isRecord(value)) {
    report.error([], `expected a mapping with a 'rules' list, got ${describe(value)}`);
    return { rules, problems: report.problems };
  }
  for (const key of Object.keys(value)) {
    if (key !== 'rules')
      report.error([key], `unknown key '${key}'; the configuration has only 'rules'`, true);
  }
  if (!Array.isArray(value.rules)) {
    report.error(['rules'], `expected a list of rules, got ${describe(value.rules)}`);
    return { rules, problems: report.problems };
  }
  const names = new Map<string, number>();
  value.rules.forEach((raw, index) => {
    const rule = parseRule(raw, index, report, options);
    const name = isRecord(raw) && typeof raw.name === 'string' ? raw.name.trim() : undefined;
    if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined)
        report.error(['rules', index, 'name'], `duplicate rule name '${name}' (also rules[${first}])`);
      else names.set(name, index);
    }
    if (rule) rules.push(rule);
  });
  return { rules, problems: report.problems };
}
