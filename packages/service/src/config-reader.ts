// Typed reads from a loaded configuration that never throw: each bad value adds one problem with
// its place (`relay.yaml:7:9: queue.retry[1]: ...`) and yields a fallback, so one run reports every
// problem at once (DESIGN.md). Every service's schema is built from these reads (mta-sections.ts
// reads the sections the MTAs share).

import { type ConfigPath, type ConfigSource, pathText } from './config-file.ts';

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface ConfigReader {
  readonly problems: string[];
  problem(path: ConfigPath, message: string): void;
  get(path: ConfigPath): unknown;
  has(path: ConfigPath): boolean;
  /** Reports keys of the mapping at `path` that are not in `known`. */
  keys(path: ConfigPath, known: readonly string[]): void;
  string(path: ConfigPath, fallback: string): string;
  optionalString(path: ConfigPath): string | null;
  integer(path: ConfigPath, fallback: number, min?: number, max?: number): number;
  boolean(path: ConfigPath, fallback: boolean): boolean;
  /** A list of strings; a comma-separated string is accepted too (handy from the environment). */
  strings(path: ConfigPath, fallback: readonly string[]): string[];
  /** Milliseconds as a number, or `500ms`, `30s`, `5m`, `4h`, `5d`. */
  duration(path: ConfigPath, fallback: number): number;
  /** The keys of a mapping (empty when absent). */
  entries(path: ConfigPath): string[];
  /** The length of a list (0 when absent). */
  length(path: ConfigPath): number;
}

export function createConfigReader(source: ConfigSource): ConfigReader {
  const problems: string[] = [...source.problems];
  const get = (path: ConfigPath): unknown => {
    let node: unknown = source.value;
    for (const segment of path) {
      if (node === null || typeof node !== 'object') return undefined;
      node = (node as Record<string | number, unknown>)[segment];
    }
    return node;
  };
  const problem = (path: ConfigPath, message: string): void => {
    problems.push(`${source.where(path)}: ${pathText(path)}: ${message}`);
  };
  const present = (path: ConfigPath): boolean => {
    const value = get(path);
    return value !== undefined && value !== null;
  };
  const reader: ConfigReader = {
    problems,
    problem,
    get,
    has: present,
    keys(path, known) {
      const value = get(path);
      if (value === undefined || value === null) return;
      if (typeof value !== 'object' || Array.isArray(value)) {
        problem(path, 'must be a mapping');
        return;
      }
      for (const key of Object.keys(value)) {
        if (!known.includes(key)) problem([...path, key], `unknown key (known: ${known.join(', ')})`);
      }
    },
    string(path, fallback) {
      return reader.optionalString(path) ?? fallback;
    },
    optionalString(path) {
      const value = get(path);
      if (value === undefined || value === null) return null;
      if (typeof value === 'number') return String(value);
      if (typeof value !== 'string' || value === '') {
        problem(path, 'must be a non-empty string');
        return null;
      }
      return value;
    },
    integer(path, fallback, min = 0, max = Number.MAX_SAFE_INTEGER) {
      const value = get(path);
      if (value === undefined || value === null) return fallback;
      const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        problem(path, `must be an integer from ${min} to ${max}`);
        return fallback;
      }
      return n;
    },
    boolean(path, fallback) {
      const value = get(path);
      if (value === undefined || value === null) return fallback;
      if (typeof value !== 'boolean') {
        problem(path, 'must be true or false');
        return fallback;
      }
      return value;
    },
    strings(path, fallback) {
      const value = get(path);
      if (value === undefined || value === null) return [...fallback];
      const list =
        typeof value === 'string'
          ? value.split(',').map((s) => s.trim())
          : Array.isArray(value)
            ? value
            : null;
      if (!list) {
        problem(path, 'must be a list of strings');
        return [...fallback];
      }
      const out: string[] = [];
      list.forEach((item, index) => {
        if (typeof item === 'string' && item !== '') out.push(item);
        else if (typeof item === 'number') out.push(String(item));
        else problem([...path, index], 'must be a non-empty string');
      });
      return out;
    },
    duration(path, fallback) {
      const value = get(path);
      if (value === undefined || value === null) return fallback;
      if (typeof value === 'number' && value >= 0) return value;
      const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim()) : null;
      if (!match) {
        problem(path, 'must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. 4h)');
        return fallback;
      }
      return Math.round(Number(match[1]) * (UNITS[match[2] as string] ?? 1));
    },
    entries(path) {
      const value = get(path);
      if (value === undefined || value === null) return [];
      if (typeof value !== 'object' || Array.isArray(value)) {
        problem(path, 'must be a mapping');
        return [];
      }
      return Object.keys(value);
    },
    length(path) {
      const value = get(path);
      if (value === undefined || value === null) return 0;
      if (!Array.isArray(value)) {
        problem(path, 'must be a list');
        return 0;
      }
      return value.length;
    },
  };
  return reader;
}
