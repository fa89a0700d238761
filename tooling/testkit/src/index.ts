export { type ArcpyResult, dkimpyArcVerify, dkimpyAvailable, dkimpyVerify } from './dkimpy.ts';
export {
  type DnsQuery,
  type DnsServer,
  type DnsServerOptions,
  type MxRecord,
  startDns,
  type Zone,
  type ZoneEntry,
} from './dns-server.ts';
export {
  describeWithPostgres,
  openTestPostgres,
  POSTGRES_URL_VARIABLE,
  type PostgresAvailability,
  postgresAvailability,
  type TestPostgres,
} from './postgres.ts';
export { type RawChunk, replyCodes, type SendRawOptions, sendRaw } from './send-raw.ts';
export {
  type PeerCommand,
  type PeerReply,
  type PeerRule,
  type PeerScript,
  type PeerSession,
  type PeerTransaction,
  type SmtpPeer,
  startPeer,
} from './smtp-peer.ts';
export { openTempDir, type TempDir } from './temp-dir.ts';
export { createTestCertificate, type TestCertificate, type TestCertificateOptions } from './tls.ts';
