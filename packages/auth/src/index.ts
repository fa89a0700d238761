// @mailyard/auth — the public surface: verify, sign, seal, SRS, keys and DNS helpers.

export {
  type CreateResolverOptions,
  createResolver,
  createStaticResolver,
  type DnsError,
  dnsError,
  type Resolver,
  type ZoneData,
} from './dns.ts';
export { type CachingResolverOptions, createCachingResolver } from './dns-cache.ts';
export {
  type DkimDnsRecord,
  type DkimDnsRecordOptions,
  type DkimKeyType,
  dkimDnsRecord,
  type GenerateDkimKeyOptions,
  type GeneratedDkimKey,
  generateDkimKey,
  publicKeyValue,
  splitTxt,
} from './keys.ts';
export type { MessageSource } from './message-stream.ts';
export { organizationalDomain } from './org-domain.ts';
export { type ArcKey, type SealArcOptions, type SealResult, sealArc } from './seal.ts';
export {
  type CheckSenderDomainOptions,
  type CheckStatus,
  checkSenderDomain,
  type SelectorToCheck,
  type SenderCheck,
  type SenderDomainReport,
} from './sender-check.ts';
export {
  type Canonicalization,
  DEFAULT_SIGNED_HEADERS,
  type DkimAlgorithm,
  type DkimKey,
  OVERSIGNED_HEADERS,
  type SignDkimOptions,
  signDkim,
} from './sign.ts';
export {
  createSrs,
  type Srs,
  SrsError,
  type SrsErrorCode,
  SrsFormatError,
  SrsHashError,
  type SrsOptions,
  type SrsReverseResult,
  SrsTimestampError,
} from './srs.ts';
export type {
  ArcVerdict,
  AuthResult,
  DkimVerdict,
  DmarcPolicy,
  DmarcVerdict,
  SpfVerdict,
  Verdict,
} from './verdict.ts';
export { type MessageInput, type VerifyOptions, verify } from './verify.ts';
