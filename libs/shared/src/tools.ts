/**
 * The framework-free part of libs/shared for command-line tools (`#shared/tools`): API keys, the operator key, key
 * files, event signatures, license documents, the configuration and the bus users. Loading it loads no Nest, TypeORM,
 * pg or NATS client, so tools such as `npm run verify-license` and the container's secret launcher start at once.
 */
export { API_KEY_ROLES, generateApiKey } from './auth/api-keys.js';
export { clientOperatorKey } from './auth/operator-key.js';
export { describeKeyFileError } from './event-signing/pem-key-files.js';
export { EVENT_KEY_ID_HEADER, EVENT_SIGNATURE_HEADER, signEvent } from './event-signing/event-signature.js';
export * from './license-document/index.js';
export { DEFAULT_STREAM_MAX_BYTES, loadServiceConfig } from './config/service-config.js';
export * from './messaging/bus-users.js';
export * from './observability/prometheus-text.js';
export * from './processes/processes.js';
export * from './processes/services.js';
