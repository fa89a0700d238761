// The first steps of every app's configuration parser: read the file, parse the YAML with its
// `MAILYARD_*` overrides, stop at a file that does not parse (its schema problems would only be
// noise), then hand back a reader that collects every schema problem and the files it names.

import { readFileSync } from 'node:fs';
import { type ConfigSource, type LoadConfigOptions, loadConfigFile } from './config-file.ts';
import { type ConfigFiles, createConfigFiles } from './config-files.ts';
import { ConfigError, type ConfigReader, createConfigReader } from './config-reader.ts';

/** What every app's `parse…Config(text, options)` takes. */
export interface ParseConfigOptions {
  /** Shown in problems and the base of relative paths. */
  readonly file: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Hostname when the file names none. */
  readonly defaultHostname?: string;
}

export interface OpenedConfig {
  readonly source: ConfigSource;
  readonly reader: ConfigReader;
  readonly files: ConfigFiles;
}

/** `known`: the app's top-level keys, checked here. Throws ConfigError when the text does not parse. */
export function openConfig(
  text: string,
  options: LoadConfigOptions & { readonly known: readonly string[] },
): OpenedConfig {
  const source = loadConfigFile(text, options);
  if (source.problems.length > 0) throw new ConfigError(source.problems);
  const reader = createConfigReader(source);
  reader.keys([], options.known);
  return { source, reader, files: createConfigFiles(reader, options.file) };
}

/** The text of the configuration file at `path`; an unreadable file is a ConfigError. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${path}: cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
}
