// Which app a configuration file belongs to, for the tools that serve both MTAs (`mailyard queue`,
// `mailyard rules test`): a forwarder's file names the domains it receives for (`domains`, `srs`),
// a relay's never does. Both are read and validated by their app's own reader.

import { readFileSync } from 'node:fs';
import { type ForwarderConfig, readForwarderConfig } from '@mailyard/forwarder';
import { type RelayConfig, readRelayConfig } from '@mailyard/relay';
import { parse } from 'yaml';

export type MtaConfigFile =
  | { readonly app: 'relay'; readonly config: RelayConfig }
  | { readonly app: 'forwarder'; readonly config: ForwarderConfig };

/** True when the YAML at `path` reads as a forwarder configuration (unreadable files: false). */
export function isForwarderConfig(path: string): boolean {
  try {
    const value: unknown = parse(readFileSync(path, 'utf8'));
    return value !== null && typeof value === 'object' && ('domains' in value || 'srs' in value);
  } catch {
    return false;
  }
}

/** Reads either app's configuration; throws ConfigError with every problem. */
export function readMtaConfig(path: string, env?: NodeJS.ProcessEnv): MtaConfigFile {
  return isForwarderConfig(path)
    ? { app: 'forwarder', config: readForwarderConfig(path, env) }
    : { app: 'relay', config: readRelayConfig(path, env) };
}
