// @mailyard/relay — the outbound MTA: its configuration, openRelay, and the tools the CLI needs.

export {
  type Accepted,
  type AcceptPipeline,
  type AcceptRequest,
  createAcceptPipeline,
  SMARTHOST_PREFIX,
} from './accept-pipeline.ts';
export { type AdminHttp, type AdminHttpOptions, openAdminHttp } from './admin-http.ts';
export { type ConfigPath, type ConfigSource, type LoadConfigOptions, loadConfigFile } from './config-file.ts';
export { ConfigError, type ConfigReader, createConfigReader } from './config-reader.ts';
export { createLogger, type Logger, silentLogger } from './logger.ts';
export { type OpenRelayOptions, openQueueStore, openRelay, type Relay } from './relay.ts';
export {
  type DkimKeyConfig,
  type HostPort,
  parseRelayConfig,
  type RelayConfig,
  readRelayConfig,
  type SmarthostConfig,
} from './relay-config.ts';
export { addUser, hashPassword, openUsersFile, parseUsers, type UsersFile } from './users-file.ts';
