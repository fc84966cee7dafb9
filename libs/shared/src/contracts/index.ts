/**
 * The pure half of libs/shared: contracts, catalogs and domain building blocks. Domain code imports only
 * this entry point (`#shared/contracts`), so it never loads a framework, a driver or a client.
 */
export * from './pairing.events.js';
export * from './licensing.events.js';
export * from './sync-agent.events.js';
export * from './event-catalog.js';
export * from './envelope.js';
export * from './subjects.js';
export * from './product-lookup.js';
export * from './newest-event.js';
export * from './text.js';
export * from '../catalog/model-catalog.js';
export * from '../catalog/license-catalog.js';
export * from '../domain/decider.js';
export * from '../domain/rule-violation.js';
export * from '../domain/firmware.js';
export * from '../domain/license-status.js';
export * from './event-signing-keys.js';
