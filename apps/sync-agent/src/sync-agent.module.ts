import { Module } from '@nestjs/common';
import { DeadLettersModule, EventSigningKeysModule } from '#shared';
import { EffectiveLicensesHistoryController } from './read-models/effective-licenses-history/effective-licenses-history.controller.js';
import { EffectiveLicensesController } from './read-models/effective-licenses/effective-licenses.controller.js';
import { EffectiveLicensesProjector } from './read-models/effective-licenses/effective-licenses.projector.js';
import { FailoverReadinessController } from './read-models/failover-readiness/failover-readiness.controller.js';
import { FailoverReadinessQuery } from './read-models/failover-readiness/failover-readiness.query.js';
import { MeController } from './console/me.controller.js';
import { LicenseDocumentModule } from './read-models/license-document/license-document.module.js';

/**
 * The sync agent: projects pairing and licensing events into each product's effective license set, and
 * answers queries over it (now, as of an instant, its history, failover readiness of a pair, signed documents).
 */
@Module({
  imports: [LicenseDocumentModule, DeadLettersModule, EventSigningKeysModule],
  controllers: [EffectiveLicensesController, EffectiveLicensesHistoryController, FailoverReadinessController, MeController],
  providers: [EffectiveLicensesProjector, FailoverReadinessQuery],
})
export class SyncAgentModule {}
