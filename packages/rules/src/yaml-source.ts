// Reads a YAML rules file into plain data while keeping a way back from a configuration path
// (`rules[3].forward[0]`) to the line and column it was written at, so every problem can point
// into the file. Uses the `yaml` package's document nodes (their source ranges) and LineCounter.

import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Finds where a path was written; `key` asks for the mapping key rather than its value. */
export type Locator = (path: Path, key?: boolean) => Position | null;

export interface YamlSource {
  readonly value: unknown;
  readonly locate: Locator;
  readonly errors: readonly { readonly message: string; readonly position: Position | null }[];
}

export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  // uniqueKeys (the default) reports a key written twice; maxAliasCount bounds alias expansion,
  // so a "billion laughs" document cannot blow up memory.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const position = (offset: number | undefined): Position | null => {
    if (offset === undefined) return null;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const errors = [...doc.errors, ...doc.warnings].map((error) => ({
    message: error.message.split('\n')[0] ?? error.message,
    position: position(error.pos[0]),
  }));
  let value: unknown = null;
  if (doc.errors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 1_000 });
    } catch (error) {
      errors.push({ message: error instanceof Error ? error.message : String(error), position: null });
    }
  }
  const resolve = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const locate: Locator = (path, key = false) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const segment of path) {
      node = resolve(node);
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && item.key.value === segment,
        );
        if (!pair) return nodePosition(node);
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) return nodePosition(node);
        node = item;
      } else {
        return nodePosition(node);
      }
    }
    return nodePosition(key && keyNode !== undefined ? keyNode : (node ?? keyNode));
  };
  function nodePosition(node: unknown): Position | null {
    const range = (node as Node | null | undefined)?.range;
    return range ? position(range[0]) : null;
  }
  return { value, locate, errors };
}

/** `rules[3].forward[0]`, the way problems name a place in the configuration. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(root)' : out;
}
