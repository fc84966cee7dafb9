export * from './decider-spec.js';
export * from './eventually.js';
export * from './postgres.js';
export * from './bus.js';
export * from './sample-events.js';
export * from './private-nats-server.js';
export * from './secure-nats-server.js';
