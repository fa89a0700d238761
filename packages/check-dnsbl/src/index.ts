// @mailyard/check-dnsbl — the public surface: every export of the package is named here.
// Load it from an app's config as `{ module: '@mailyard/check-dnsbl', options: {...} }`; the
// default export is the check factory that loadChecks of @mailyard/smtp calls.

import { createCheck } from './dnsbl-check.ts';

export default createCheck;
export { createCheck } from './dnsbl-check.ts';
export {
  type DnsblConfig,
  type DnsblOptions,
  type DnsblStage,
  type DnsblZoneOptions,
  type DomainTarget,
  parseDnsblOptions,
  type ZoneConfig,
} from './options.ts';
export { domainQueryName, ipQueryName, reverseIp } from './query-name.ts';
