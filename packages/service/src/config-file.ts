// Loads an app's YAML configuration file and applies `MAILYARD_*` environment overrides, keeping a
// way back from every configuration path (`queue.url`) to where it was written — a file line and
// column, or the environment variable — so every problem can be reported with its place.
// Every Mailyard service (the relay, the forwarder) reads its configuration this way.
//
// Environment names: `MAILYARD_` + path segments joined by `__`; inside a segment `_` separates
// the words of a camelCase key. `MAILYARD_DATA_DIR` -> `dataDir`, `MAILYARD_QUEUE__URL` ->
// `queue.url`, `MAILYARD_DNS__SERVERS='[127.0.0.1:53]'`. Values are read as YAML scalars or flow
// collections, so numbers, booleans and lists keep their type.

import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parse, parseDocument } from 'yaml';

export type ConfigPath = readonly (string | number)[];

export interface ConfigSource {
  /** The merged configuration: the file's mapping with the environment's values on top. */
  readonly value: Record<string, unknown>;
  /** Where a path was set: `relay.yaml:12:5`, `MAILYARD_QUEUE__URL`, or the file name alone. */
  where(path: ConfigPath): string;
  /** YAML syntax problems and unusable environment values, already with their places. */
  readonly problems: readonly string[];
}

export interface LoadConfigOptions {
  /** Shown in problems. */
  readonly file: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Default `MAILYARD_`. */
  readonly prefix?: string;
  /**
   * The schema's top-level keys: a variable naming another key is left alone, because other
   * programs (the sink, test switches such as MAILYARD_TEST_PG_URL) share the prefix.
   */
  readonly known?: readonly string[];
}

/** `dataDir` from `DATA_DIR`. */
function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function pathText(path: ConfigPath): string {
  let text = '';
  for (const segment of path)
    text += typeof segment === 'number' ? `[${segment}]` : text ? `.${segment}` : segment;
  return text || '(root)';
}

export function loadConfigFile(text: string, options: LoadConfigOptions): ConfigSource {
  const problems: string[] = [];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return options.file;
    const { line, col } = lineCounter.linePos(offset);
    return `${options.file}:${line}:${col}`;
  };
  for (const error of doc.errors) problems.push(`${at(error.pos[0])}: ${error.message.split('\n')[0]}`);
  let value: Record<string, unknown> = {};
  if (doc.errors.length === 0) {
    // maxAliasCount bounds alias expansion: a "billion laughs" file cannot exhaust memory.
    const js: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (js === null || js === undefined) value = {};
    else if (typeof js === 'object' && !Array.isArray(js)) value = js as Record<string, unknown>;
    else problems.push(`${options.file}:1:1: the configuration must be a mapping of keys to values`);
  }

  const fromEnv = new Map<string, string>();
  const prefix = options.prefix ?? 'MAILYARD_';
  const known = options.known ? new Set(options.known) : null;
  for (const [name, raw] of Object.entries(options.env ?? {})) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name.slice(prefix.length).split('__').map(camel);
    if (known && !known.has(path[0] as string)) continue;
    if (path.some((segment) => segment === '')) {
      problems.push(`${name}: not a configuration path`);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = raw === '' ? '' : parse(raw);
    } catch {
      parsed = raw;
    }
    let target: Record<string, unknown> = value;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      if (next === undefined || next === null) target = target[segment] = {};
      else if (typeof next === 'object' && !Array.isArray(next)) target = next as Record<string, unknown>;
      else {
        problems.push(`${name}: ${pathText(path)} cannot be set: ${segment} is not a mapping`);
        target = {};
      }
    }
    target[path[path.length - 1] as string] = parsed;
    fromEnv.set(pathText(path), name);
  }

  const locate = (path: ConfigPath): Node | null => {
    let node: unknown = doc.contents;
    let found: Node | null = null;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && item.key.value === segment,
        );
        if (!pair) return found;
        found = (pair.value as Node | null) ?? (pair.key as Node);
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (!item) return found;
        found = item as Node;
        node = item;
      } else return found;
    }
    return found;
  };

  return {
    value,
    problems,
    where(path) {
      for (let n = path.length; n > 0; n--) {
        const name = fromEnv.get(pathText(path.slice(0, n)));
        if (name) return name;
      }
      return at(locate(path)?.range?.[0]);
    },
  };
}
