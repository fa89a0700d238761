// @mailyard/smtp — the public surface of the protocol core.

export {
  type Address,
  formatAddress,
  needsSmtputf8,
  normalizeDomain,
  type ParseAddressOptions,
  parseAddress,
  parsePath,
} from './address.ts';
export type {
  Check,
  CheckContext,
  CheckFactory,
  CheckHost,
  CheckLogger,
  CheckStage,
  CheckTag,
  CheckVerdict,
  MessageInfo,
  VerdictResult,
} from './checks/check.ts';
export { CheckConfigError, type CheckConfigIssue } from './checks/check-config-error.ts';
export {
  type CheckImporter,
  type CheckSpec,
  type LoadChecksHost,
  loadChecks,
} from './checks/load-checks.ts';
export {
  type CheckCall,
  type ChecksOutcome,
  CheckTimeoutError,
  DEFAULT_CHECK_TIMEOUT_MS,
  type RunChecksOptions,
  runChecks,
} from './checks/run-checks.ts';
export { checkTagsOf, formatTagFields, type WithChecksOptions, withChecks } from './checks/with-checks.ts';
export { DataEncoder, encodeData, type MessageSource, measureMessage } from './client/data-encoder.ts';
export {
  classifyDnsError,
  createDnsResolver,
  type DnsErrorKind,
  type DnsOption,
  type DnsResolver,
  type DnsServersOptions,
} from './client/dns-resolver.ts';
export {
  createMtaStsFetcher,
  type MtaStsFetcherOptions,
  type MtaStsPolicy,
  type MtaStsPolicySource,
  mxMatchesPolicy,
  parseMtaStsPolicy,
} from './client/mta-sts.ts';
export {
  type AddressResolution,
  type MxHost,
  type MxResolution,
  type ResolveOptions,
  resolveHostAddresses,
  resolveMxHosts,
} from './client/next-hop.ts';
export {
  type ClientMessage,
  type ClientTlsMode,
  openSmtpClient,
  type SmtpAuthOptions,
  type SmtpClient,
  type SmtpClientOptions,
} from './client/smtp-client.ts';
export type { ConnectionTlsOptions, Reply } from './client/smtp-connection.ts';
export {
  createSmtpCourier,
  type MailReuseOptions,
  type SmarthostOptions,
  type SmtpCourier,
  type SmtpCourierOptions,
} from './client/smtp-courier.ts';
export { DEFAULT_TIMEOUTS, type SmtpTimeouts } from './client/timeouts.ts';
export type { Courier, DeliveryRequest, Outcome } from './delivery.ts';
export { type BuildDsnOptions, buildDsn, type Dsn, type DsnRecipientReport } from './dsn/build-dsn.ts';
export { type DsnAction, mayNotifySender, wantsDsn } from './dsn/dsn-policy.ts';
export { type ParsedDsn, type ParsedDsnRecipient, parseDsn } from './dsn/parse-dsn.ts';
export {
  decodeXtext,
  type Envelope,
  encodeXtext,
  type MailParams,
  type Notify,
  type Recipient,
} from './envelope.ts';
export { type HeaderField, parseHeaderFields } from './header-fields.ts';
export { type ByteMeter, COLLECT_EVERY, createByteMeter, metered } from './memory-pressure.ts';
export { MAX_HEAD, type PeekedMessage, peekHead } from './message-head.ts';
export type { AuthCredentials, ConnectionInfo, SmtpBackend, SmtpSession } from './server/backend.ts';
export {
  type CloseOptions,
  createSmtpServer,
  type ListeningAddress,
  type SmtpServer,
} from './server/create-smtp-server.ts';
export type { BareLineEndings } from './server/data-guard.ts';
export { IncompatibleSmtpServerError } from './server/greeting-delay.ts';
export { buildReceivedHeader, protocolWord, type ReceivedHeaderInput } from './server/received-header.ts';
export type {
  ListenerTls,
  SmtpListenerOptions,
  SmtpServerLimits,
  SmtpServerLogger,
  SmtpServerOptions,
} from './server/server-options.ts';
export { SmtpError } from './smtp-error.ts';
export { createStampingCourier, type Stamp } from './stamping-courier.ts';
export { storageError } from './storage-error.ts';
