import { Module } from '@nestjs/common';
import {
  ApiModule,
  BusModule,
  ConsumerModule,
  DatabaseModule,
  EventSigningKeysModule,
  OutboxRelayModule,
  type ServiceDefinition,
} from '#shared';
import { SYNC_AGENT_MIGRATIONS } from './infrastructure/migrations.js';
import { EffectiveLicensesHistoryController } from './read-models/effective-licenses-history/effective-licenses-history.controller.js';
import { EffectiveLicensesController } from './read-models/effective-licenses/effective-licenses.controller.js';
import { EffectiveLicensesProjector } from './read-models/effective-licenses/effective-licenses.projector.js';
import { FailoverReadinessController } from './read-models/failover-readiness/failover-readiness.controller.js';
import { FailoverReadinessQuery } from './read-models/failover-readiness/failover-readiness.query.js';
import { projectionConsumers } from './facts/projection-consumers.js';
import { MeController } from './console/me.controller.js';
import { LicenseDocumentModule } from './read-models/license-document/license-document.module.js';

/**
 * The sync agent's configuration defaults (SYNC_AGENT_PORT 3003, database ha_sync_agent) and its events; the rebuild
 * reads the same, so both find the same database, schema and streams.
 */
export const SYNC_AGENT_SERVICE: ServiceDefinition = {
  service: 'sync-agent',
  portVariable: 'SYNC_AGENT_PORT',
  defaultPort: 3003,
  defaultDatabase: 'ha_sync_agent',
  publishes: 'sync-agent',
};

/**
 * The sync agent: projects pairing and licensing events into each product's effective license set
 * (EffectiveLicensesProjector, the consumer's handler; its EffectiveLicensesChanged go out through the relay), and
 * answers queries over it (now, as of an instant, its history, failover readiness of a pair, signed documents).
 */
@Module({
  imports: [
    DatabaseModule.forRoot({ migrations: SYNC_AGENT_MIGRATIONS, planning: 'for each execution' }),
    BusModule,
    OutboxRelayModule,
    ApiModule,
    EventSigningKeysModule,
    ConsumerModule.forFeature({
      sources: ['pairing', 'licensing'],
      consumers: projectionConsumers,
      handler: EffectiveLicensesProjector,
    }),
    LicenseDocumentModule,
  ],
  controllers: [EffectiveLicensesController, EffectiveLicensesHistoryController, FailoverReadinessController, MeController],
  providers: [FailoverReadinessQuery],
})
export class SyncAgentModule {}
