// The `checks` list of an app's configuration: which check modules (see @mailyard/smtp's checks)
// to load, by package name or file, with their options. Read here, loaded at start by loadChecks,
// whose errors name the same path (`forwarder.yaml:40:5: checks[0]`), so a typo in a module name
// points at its line.

import type { CheckSpec } from '@mailyard/smtp';
import type { ConfigPath } from './config-file.ts';
import type { ConfigReader } from './config-reader.ts';

/** `where(path)`: the place of a path in the file (ConfigSource.where). */
export function readCheckSpecs(r: ConfigReader, where: (path: ConfigPath) => string): CheckSpec[] {
  const specs: CheckSpec[] = [];
  for (let i = 0; i < r.length(['checks']); i++) {
    const at = ['checks', i];
    r.keys(at, ['module', 'options', 'name', 'timeout']);
    const module = r.optionalString([...at, 'module']);
    if (module === null) {
      r.problem([...at, 'module'], 'is required (a package name or a ./file)');
      continue;
    }
    const name = r.optionalString([...at, 'name']);
    specs.push({
      module,
      options: r.get([...at, 'options']) ?? {},
      ...(name ? { name } : {}),
      ...(r.has([...at, 'timeout']) ? { timeoutMs: r.duration([...at, 'timeout'], 10_000) } : {}),
      path: `${where(at)}: checks[${i}]`,
    });
  }
  return specs;
}
