// @mailyard/service — the public surface: what every Mailyard service process needs.

export {
  type AdminHttp,
  type AdminHttpOptions,
  type AdminRoute,
  openAdminHttp,
  sendJson,
} from './admin-http.ts';
export { readCheckSpecs } from './check-specs.ts';
export {
  type ConfigPath,
  type ConfigSource,
  type LoadConfigOptions,
  loadConfigFile,
  pathText,
} from './config-file.ts';
export { type ConfigFiles, createConfigFiles } from './config-files.ts';
export { ConfigError, type ConfigReader, createConfigReader } from './config-reader.ts';
export { deliveryCourierOptions, deliveryWorkerOptions, SMARTHOST_PREFIX } from './delivery-options.ts';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger.ts';
export { createMtaMetrics, type MetricsQueue, type MtaMetrics } from './metrics.ts';
export {
  type AdminConfig,
  type DeliveryConfig,
  type HostPort,
  MTA_SECTIONS,
  type MtaConfig,
  type MtaSectionsOptions,
  parseHostPort,
  type QueueConfig,
  readMtaSections,
  type SmarthostConfig,
} from './mta-sections.ts';
export { type OpenedConfig, openConfig, type ParseConfigOptions, readConfigText } from './open-config.ts';
export { createRefuse, type Refuse } from './refusal.ts';
export { type CloseOptions, type CloseStep, createShutdown, type Shutdown } from './shutdown.ts';
