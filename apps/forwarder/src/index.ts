// @mailyard/forwarder — email routing for your own domains: its configuration, openForwarder, and
// what the CLI and webhook receivers need.

export {
  type DestinationState,
  type DestinationStore,
  openPostgresDestinations,
  openSqliteDestinations,
} from './destinations.ts';
export { type DmarcEnforcement, QUARANTINE_HEADER } from './dmarc-policy.ts';
export { type ExplainForwardingOptions, explainForwarding } from './explain-forwarding.ts';
export { type Forwarded, type ForwardPipeline, UNVERIFIED_REASON } from './forward-pipeline.ts';
export {
  type Forwarder,
  loadForwarderChecks,
  type OpenForwarderOptions,
  openForwarder,
} from './forwarder.ts';
export { type ForwarderConfig, parseForwarderConfig, readForwarderConfig } from './forwarder-config.ts';
export { confirmDestination, VERIFY_PATH } from './verification.ts';
export { SIGNATURE_HEADER, signWebhook, WEBHOOK_PREFIX, type WebhookPayload } from './webhook-courier.ts';
