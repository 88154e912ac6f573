export { type Gateway, type GatewayLogger, type GatewayOptions, type ReloadResult, createGateway } from './gateway.js';
export { ListenError } from './listener.js';
export { type ClientCertificate, clientCertificateOf } from './client-certificate.js';
export { bearerMatches } from './operator.js';
export {
  ConfigError,
  type ConfigIssue,
  ENV_OVERRIDES,
  type GatewayConfig,
  type GatewayConfigInput,
  type ParseConfigOptions,
  type RouteRule,
  loadConfigFile,
  parseConfig,
  parseConfigText,
} from './config.js';
export { type ConfigWatcher, type WatchConfigOptions, watchConfigFile } from './watch.js';
export type { RegionStatus, StatusSnapshot } from './status.js';
export { type DemoOrigin, type DemoOriginOptions, startDemoOrigin } from './origin.js';
export { type ConfigBucketLocation, type ConfigBucketWatch, openConfigBucket, publishConfigFile, watchConfigBucket } from './config-bucket.js';
export type { EventStream, EventStreamStatus } from './event-stream.js';
