/**
 * What the sync agent offers the project's tools: the durable consumers it reads with (bus setup creates them), its
 * migrations and rebuild consumer (the benchmark's rebuild), its module, its API description and the names of the
 * streams it publishes (contract documents).
 */
export { projectionConsumers } from './facts/projection-consumers.js';
export { SYNC_AGENT_MIGRATIONS } from './infrastructure/migrations.js';
export { REBUILD_DURABLE } from './rebuild/rebuild.js';
export { SyncAgentModule } from './sync-agent.module.js';
export { SYNC_AGENT_API, SYNC_AGENT_SCHEMAS } from './sync-agent.api.js';
export { effectiveLicensesStreamId, statefulSyncStreamId } from './domain/effective-licenses/publication.js';
