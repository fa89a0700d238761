// Loads the checks an app's config names, so a check can be published as a package of its own:
// `checks: [{ module: '@mailyard/check-dnsbl', options: {...} }]`. A module is a package name,
// or a file path relative to the config file's folder; it exports a CheckFactory as
// `createCheck` or as its default export. Every spec is loaded, and every problem (a module that
// does not load, has no factory, rejects its options) is reported at once, with its config path.

import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DnsResolver } from '../client/dns-resolver.ts';
import type { Check, CheckFactory, CheckLogger } from './check.ts';
import { CheckConfigError, type CheckConfigIssue } from './check-config-error.ts';

export interface CheckSpec {
  /** A package name (`@mailyard/check-dnsbl`) or a path (`./checks/mine.js`, against `configDir`). */
  readonly module: string;
  /** Handed to the module's factory, which validates it. */
  readonly options?: unknown;
  /** Overrides the check's own time limit per hook (see RunChecksOptions). */
  readonly timeoutMs?: number;
  /** Overrides the check's name, so one module can be loaded twice (e.g. one list rejects, one tags). */
  readonly name?: string;
  /** Where this spec sits in the config, for errors. Default `checks[<index>]`. */
  readonly path?: string;
}

export interface LoadChecksHost {
  readonly resolver: DnsResolver;
  readonly logger: CheckLogger;
  /** The config file's folder: relative module paths are resolved against it. */
  readonly configDir?: string;
}

/**
 * Imports a package name or a `file:` URL. Pass `(name) => import(name)` written in the app,
 * so package names resolve from the app's own dependencies: the default resolves them from
 * where @mailyard/smtp is installed, which finds them only in a flat (npm, hoisted) layout.
 */
export type CheckImporter = (specifier: string) => Promise<unknown>;

const defaultImporter: CheckImporter = (specifier) => import(specifier);

function isPath(module: string): boolean {
  return module.startsWith('./') || module.startsWith('../') || isAbsolute(module);
}

function factoryOf(loaded: unknown): CheckFactory | null {
  const namespace = loaded as { createCheck?: unknown; default?: unknown } | null;
  if (typeof namespace?.createCheck === 'function') return namespace.createCheck as CheckFactory;
  if (typeof namespace?.default === 'function') return namespace.default as CheckFactory;
  // A CommonJS module imported from ESM: its exports object is the default export.
  const commonjs = namespace?.default as { createCheck?: unknown } | null | undefined;
  if (typeof commonjs?.createCheck === 'function') return commonjs.createCheck as CheckFactory;
  return null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Only the check's own hooks: the host relies on nothing else, and a spec may set the limit. */
function validated(check: unknown, spec: CheckSpec): Check | string {
  const candidate = check as Partial<Record<keyof Check, unknown>> | null;
  if (typeof candidate !== 'object' || candidate === null) return 'the factory returned no check';
  if (typeof candidate.name !== 'string' || candidate.name === '') return 'the check has no name';
  const hooks = (['connect', 'mail', 'rcpt', 'data'] as const).filter(
    (stage) => candidate[stage] !== undefined,
  );
  const broken = hooks.find((stage) => typeof candidate[stage] !== 'function');
  if (broken) return `the check's ${broken} hook is not a function`;
  if (hooks.length === 0) return 'the check has no stage hook (connect, mail, rcpt or data)';
  const real = check as Check;
  const out: { -readonly [K in keyof Check]: Check[K] } = { name: spec.name ?? real.name };
  const ownLimit = spec.timeoutMs ?? real.timeoutMs;
  if (ownLimit !== undefined) out.timeoutMs = ownLimit;
  if (real.connect) out.connect = real.connect.bind(real);
  if (real.mail) out.mail = real.mail.bind(real);
  if (real.rcpt) out.rcpt = real.rcpt.bind(real);
  if (real.data) out.data = real.data.bind(real);
  return out;
}

async function loadOne(
  spec: CheckSpec,
  path: string,
  host: LoadChecksHost,
  importer: CheckImporter,
): Promise<Check | CheckConfigIssue[]> {
  const issue = (message: string, at = path): CheckConfigIssue[] => [{ path: at, message }];
  if (typeof spec?.module !== 'string' || spec.module.trim() === '') {
    return issue('module must name a package or a file', `${path}.module`);
  }
  if (
    spec.timeoutMs !== undefined &&
    (!Number.isInteger(spec.timeoutMs) || spec.timeoutMs <= 0 || spec.timeoutMs > 600_000)
  ) {
    return issue('timeoutMs must be an integer from 1 to 600000', `${path}.timeoutMs`);
  }
  if (spec.name !== undefined && (typeof spec.name !== 'string' || spec.name === '')) {
    return issue('name must be a non-empty string', `${path}.name`);
  }
  const { module } = spec;
  let specifier = module;
  if (isPath(module)) {
    if (!isAbsolute(module) && host.configDir === undefined) {
      return issue(
        `cannot resolve "${module}": a relative module needs the config file's folder`,
        `${path}.module`,
      );
    }
    specifier = pathToFileURL(resolve(host.configDir ?? '/', module)).href;
  }
  let loaded: unknown;
  try {
    loaded = await importer(specifier);
  } catch (error) {
    return issue(`cannot load check module "${module}": ${messageOf(error)}`, `${path}.module`);
  }
  const factory = factoryOf(loaded);
  if (!factory) {
    return issue(
      `check module "${module}" exports no check factory (createCheck or a default function)`,
      `${path}.module`,
    );
  }
  let check: unknown;
  try {
    check = await factory(spec.options, {
      resolver: host.resolver,
      logger: host.logger,
      path: `${path}.options`,
    });
  } catch (error) {
    if (error instanceof CheckConfigError) return [...error.issues];
    return issue(`check module "${module}" failed to start: ${messageOf(error)}`);
  }
  const result = validated(check, spec);
  return typeof result === 'string' ? issue(`check module "${module}": ${result}`) : result;
}

/**
 * Loads every spec, in order. Throws one CheckConfigError naming every problem; two checks with
 * the same name are one of them (tags and logs would be ambiguous).
 */
export async function loadChecks(
  specs: readonly CheckSpec[],
  host: LoadChecksHost,
  importer: CheckImporter = defaultImporter,
): Promise<Check[]> {
  const paths = specs.map((spec, i) => spec?.path ?? `checks[${i}]`);
  const results = await Promise.all(specs.map((spec, i) => loadOne(spec, paths[i]!, host, importer)));
  const issues: CheckConfigIssue[] = [];
  const checks: Check[] = [];
  const seen = new Map<string, string>();
  for (const [i, result] of results.entries()) {
    if (Array.isArray(result)) {
      issues.push(...result);
      continue;
    }
    const earlier = seen.get(result.name);
    if (earlier !== undefined) {
      issues.push({
        path: paths[i]!,
        message: `a check named "${result.name}" is already loaded at ${earlier}`,
      });
    }
    seen.set(result.name, paths[i]!);
    checks.push(result);
  }
  if (issues.length > 0) throw new CheckConfigError(issues);
  return checks;
}
