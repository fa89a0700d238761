// compileRules: configuration (YAML text or plain data) -> Router, or the full list of problems.
// Validation is the schema's (schema.ts); this module adds what needs all rules at once:
// duplicate rules (an error: the second can never run) and rules shadowed by an earlier catch-all
// of the same tier (a warning), then builds the lookup maps the router walks.

import { SmtpError } from '@mailyard/smtp';
import { compileConditions } from './conditions.ts';
import { globCovers, matchGlob } from './glob.ts';
import {
  type CompiledRule,
  createRouter,
  type DomainIndex,
  type Entry,
  type ExactSlot,
  fixedActions,
  type Router,
} from './router.ts';
import {
  NO_CONDITIONS,
  patternKey,
  type RawProblem,
  type RuleSpec,
  type SchemaOptions,
  validateConfig,
} from './schema.ts';
import type { Action, Problem, RuleRef, Tier } from './types.ts';
import { formatPath, type Locator, readYaml } from './yaml-source.ts';

export interface CompileOptions extends SchemaOptions {
  /** File name to print in problems (the CLI passes the --config path). */
  readonly file?: string;
}

export type CompileResult =
  | { readonly ok: true; readonly router: Router; readonly warnings: readonly Problem[] }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/** Comparisons per rule when looking for a covering wildcard: keeps compilation near-linear. */
const MAX_COVER_CHECKS = 256;

function tierOf(kind: string): Tier {
  switch (kind) {
    case 'exact':
      return 'exact';
    case 'subaddress':
      return 'subaddress';
    case 'domain':
      return 'domain';
    case 'any':
      return 'any';
    default:
      return 'pattern';
  }
}

function label(spec: RuleSpec): string {
  return spec.name === null ? `rules[${spec.index}]` : `rules[${spec.index}] '${spec.name}'`;
}

function compileRule(spec: RuleSpec, locate: Locator | null): CompiledRule {
  const position = locate?.(['rules', spec.index]) ?? null;
  const ref: RuleRef = Object.freeze({
    index: spec.index,
    name: spec.name,
    line: position?.line ?? null,
    column: position?.column ?? null,
  });
  const rejection = spec.reject
    ? new SmtpError(spec.reject.code, spec.reject.enhanced, spec.reject.text)
    : null;
  const dynamic = spec.forward !== null && (spec.keepTag || spec.forward.some((t) => t.fixed === null));
  let staticActions: readonly Action[] | null = null;
  if (!dynamic && !rejection) {
    const actions: Action[] = [];
    if (spec.forward)
      actions.push(Object.freeze({ type: 'forward', to: Object.freeze(spec.forward.map((t) => t.fixed!)) }));
    actions.push(...fixedActions(spec).map((a) => Object.freeze(a)));
    staticActions = Object.freeze(actions);
  }
  const conditions = compileConditions(spec);
  return {
    spec,
    ref,
    refs: Object.freeze([ref]),
    label: label(spec),
    conditions,
    rejection,
    staticActions,
    stop: spec.stop || rejection !== null,
    multi: spec.recipients.length > 1,
    fast: staticActions !== null && spec.stop && conditions.length === 0,
  };
}

function push<K>(map: Map<K, Entry[]>, key: K, entry: Entry): void {
  const list = map.get(key);
  if (list) list.push(entry);
  else map.set(key, [entry]);
}

/** Does `blocker` (earlier, stops) catch every recipient that `entry` could? */
function covers(blocker: Entry, entry: Entry): boolean {
  const a = blocker.recipient.pattern;
  const b = entry.recipient.pattern;
  if (patternKey(a) === patternKey(b)) return true;
  if (a.kind !== 'glob') return false;
  if (b.kind === 'glob') return globCovers(a.local, b.local) && globCovers(a.domain, b.domain);
  // A wildcard with `*` as its whole local part catches any regex confined to a domain it covers.
  return (
    b.kind === 'regex' &&
    a.local.segments.length === 2 &&
    a.local.segments.every((s) => s === '') &&
    b.literalDomain !== null &&
    matchGlob(a.domain, b.literalDomain, [])
  );
}

/** Finds duplicates (error) and shadowed patterns (warning) within one group of one tier. */
function analyseGroup(entries: readonly Entry[], problems: RawProblem[], candidates = entries): void {
  for (const entry of entries) {
    let checks = 0;
    for (const blocker of candidates) {
      if (blocker.rule.spec.index >= entry.rule.spec.index) break;
      const b = blocker.rule;
      if (!b.stop) continue;
      const sameConditions = b.spec.conditionKey === entry.rule.spec.conditionKey;
      if (!sameConditions && b.spec.conditionKey !== NO_CONDITIONS) continue;
      if (++checks > MAX_COVER_CHECKS) break;
      if (!covers(blocker, entry)) continue;
      const identical =
        sameConditions && patternKey(blocker.recipient.pattern) === patternKey(entry.recipient.pattern);
      if (identical) {
        problems.push({
          severity: 'error',
          path: entry.recipient.path,
          message: `duplicate rule: ${b.label} has the same recipient '${entry.recipient.source}' and conditions and stops first, so this one never runs`,
        });
      } else {
        problems.push({
          severity: 'warning',
          path: entry.recipient.path,
          message: `'${entry.recipient.source}' is shadowed by the earlier catch-all ${b.label} ('${blocker.recipient.source}'${b.spec.conditionKey === NO_CONDITIONS ? ', no other conditions' : ''}), which always matches first`,
        });
      }
      break;
    }
  }
}

/**
 * Rebuilds the exact-address map in one tight pass, after everything else is allocated: its keys
 * (flat strings, which compare without first walking a concatenation) and slots then sit together
 * in memory, so a lookup among 100,000 rules touches few cache lines and pages.
 */
function packExact(exact: Map<string, ExactSlot>): Map<string, ExactSlot> {
  const packed = new Map<string, ExactSlot>();
  for (const [key, slot] of exact) {
    const at = key.lastIndexOf('@');
    const flat = [key.slice(0, at), key.slice(at + 1)].join('@');
    packed.set(flat, { entries: slot.entries, fastActions: slot.fastActions, fastRefs: slot.fastRefs });
  }
  return packed;
}

function mergeByIndex(a: readonly Entry[], b: readonly Entry[]): Entry[] {
  return [...a, ...b].sort((x, y) => x.rule.spec.index - y.rule.spec.index);
}

function toProblem(raw: RawProblem, locate: Locator | null, file: string | null): Problem {
  const position = locate?.(raw.path, raw.atKey) ?? null;
  return {
    severity: raw.severity,
    path: formatPath(raw.path),
    message: raw.message,
    line: position?.line ?? null,
    column: position?.column ?? null,
    file,
  };
}

/**
 * Compiles a configuration: YAML text (problems then carry line and column) or plain data
 * `{ rules: [...] }`. Never throws for a bad configuration: it returns every problem found.
 */
export function compileRules(input: string | unknown, options: CompileOptions = {}): CompileResult {
  const raw: RawProblem[] = [];
  let locate: Locator | null = null;
  let value = input;
  const yamlProblems: Problem[] = [];
  if (typeof input === 'string') {
    const source = readYaml(input);
    locate = source.locate;
    value = source.value;
    for (const error of source.errors) {
      yamlProblems.push({
        severity: 'error',
        path: '(yaml)',
        message: error.message,
        line: error.position?.line ?? null,
        column: error.position?.column ?? null,
        file: options.file ?? null,
      });
    }
    if (yamlProblems.length > 0) return { ok: false, problems: yamlProblems };
  }
  const schema = validateConfig(value, options);
  raw.push(...schema.problems);
  const rules = schema.rules.map((spec) => compileRule(spec, locate));
  const exact = new Map<string, ExactSlot>();
  const domains = new Map<string, DomainIndex>();
  const patternOther: Entry[] = [];
  const any: Entry[] = [];
  const domainIndex = (domain: string): DomainIndex => {
    let found = domains.get(domain);
    if (!found) {
      found = { subaddress: new Map(), patterns: [], catchAll: [] };
      domains.set(domain, found);
    }
    return found;
  };
  for (const rule of rules) {
    for (const recipient of rule.spec.recipients) {
      const pattern = recipient.pattern;
      const entry: Entry = { rule, recipient, tier: tierOf(pattern.kind) };
      switch (pattern.kind) {
        case 'exact': {
          const slot = exact.get(pattern.key);
          if (slot) slot.entries.push(entry);
          else {
            const fast = rule.fast && rule.staticActions !== null;
            exact.set(pattern.key, {
              entries: [entry],
              fastActions: fast ? rule.staticActions : null,
              fastRefs: rule.refs,
            });
          }
          break;
        }
        case 'subaddress': {
          const at = pattern.base.lastIndexOf('@');
          push(domainIndex(pattern.base.slice(at + 1)).subaddress, pattern.base.slice(0, at), entry);
          break;
        }
        case 'glob':
        case 'regex':
          if (pattern.literalDomain !== null) domainIndex(pattern.literalDomain).patterns.push(entry);
          else patternOther.push(entry);
          break;
        case 'domain':
          domainIndex(pattern.domain).catchAll.push(entry);
          break;
        case 'any':
          any.push(entry);
          break;
      }
    }
  }
  for (const byDomain of domains.values()) {
    for (const group of byDomain.subaddress.values()) analyseGroup(group, raw);
    analyseGroup(byDomain.catchAll, raw);
    if (byDomain.patterns.length > 0) {
      analyseGroup(byDomain.patterns, raw, mergeByIndex(byDomain.patterns, patternOther));
    }
  }
  for (const slot of exact.values()) analyseGroup(slot.entries, raw);
  analyseGroup(any, raw);
  analyseGroup(patternOther, raw);
  const file = options.file ?? null;
  const problems = raw.map((p) => toProblem(p, locate, file));
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  if (problems.some((p) => p.severity === 'error')) return { ok: false, problems };
  const router = createRouter({ rules, exact: packExact(exact), domains, patternOther, any });
  return { ok: true, router, warnings: problems };
}

/** `file:line:col: error: path: message`, one problem per line, as compilers print them. */
export function formatProblem(problem: Problem): string {
  const where = [problem.file ?? '<config>', problem.line, problem.column]
    .filter((p) => p !== null)
    .join(':');
  return `${where}: ${problem.severity}: ${problem.path}: ${problem.message}`;
}
