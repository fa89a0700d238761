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
export type { Courier, DeliveryRequest, Outcome } from './delivery.ts';
export {
  decodeXtext,
  type Envelope,
  encodeXtext,
  type MailParams,
  type Notify,
  type Recipient,
} from './envelope.ts';
export { SmtpError } from './smtp-error.ts';
