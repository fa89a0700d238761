// Files a configuration names (TLS certificates, keys, users, rules), read while it is validated so
// that `--check-config` finds a missing or unusable file before anything listens. A relative name
// is relative to the configuration file's directory, not to the working directory.

import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { ConfigPath } from './config-file.ts';
import type { ConfigReader } from './config-reader.ts';

export interface ConfigFiles {
  /** The absolute path of a name written in the configuration. */
  path(name: string): string;
  /** The file's text, or null (with a problem at `at`) when it cannot be read; null for a null name. */
  read(at: ConfigPath, name: string | null): string | null;
}

/** `file`: the configuration file's own path. */
export function createConfigFiles(reader: ConfigReader, file: string): ConfigFiles {
  const base = dirname(resolve(file));
  const path = (name: string): string => (isAbsolute(name) ? name : resolve(base, name));
  return {
    path,
    read(at, name) {
      if (name === null) return null;
      try {
        return readFileSync(path(name), 'utf8');
      } catch (error) {
        reader.problem(at, `cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
        return null;
      }
    },
  };
}
