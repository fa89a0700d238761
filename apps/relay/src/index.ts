// @mailyard/relay — the outbound MTA: its configuration, openRelay, and the tools the CLI needs.
// What the forwarder shares with it lives in @mailyard/service, @mailyard/queue and @mailyard/smtp.

// The error readRelayConfig throws, with every problem.
export { ConfigError } from '@mailyard/service';
export {
  type Accepted,
  type AcceptPipeline,
  type AcceptRequest,
  createAcceptPipeline,
} from './accept-pipeline.ts';
export { type OpenRelayOptions, openRelay, type Relay } from './relay.ts';
export {
  type DkimKeyConfig,
  type HostPort,
  parseRelayConfig,
  type RelayConfig,
  readRelayConfig,
  type SmarthostConfig,
} from './relay-config.ts';
export { addUser, hashPassword, openUsersFile, parseUsers, type UsersFile } from './users-file.ts';
