// decider-spec (which loads @jest/globals) is `#shared/testing/decider` only, so that scripts run outside jest
// (the chaos harness) can load the rest of `#shared/testing`.
export * from './eventually.js';
export * from './postgres.js';
export * from './bus.js';
export * from './sample-events.js';
export * from './private-nats-server.js';
export * from './secure-nats-server.js';
export * from './unprivileged.js';
export * from './in-process-service.js';
