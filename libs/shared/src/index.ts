/** libs/shared: the one entry point for apps (the pure part alone is `#shared/contracts`). */
export * from './contracts/index.js';
export * from './config/service-config.js';
export * from './database/postgres.js';
export * from './event-store/event-store.js';
export * from './event-store/event-store.migration.js';
export * from './event-store/command-handler.js';
export * from './event-store/outbox-relay.js';
export * from './messaging/nats-connection.js';
export * from './messaging/streams.js';
export * from './messaging/durable-consumer.js';
export * from './messaging/request-reply.js';
export * from './observability/metrics.js';
export * from './runtime/service-runtime.js';
export * from './http/problem-details.js';
export * from './http/zod-validation.pipe.js';
export * from './http/runtime.module.js';
export * from './http/bootstrap.js';
