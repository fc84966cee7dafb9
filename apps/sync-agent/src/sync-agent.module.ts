import { Module } from '@nestjs/common';
import { EffectiveLicensesController } from './read-models/effective-licenses/effective-licenses.controller.js';
import { EffectiveLicensesProjector } from './read-models/effective-licenses/effective-licenses.projector.js';

/** The sync agent: projects pairing and licensing events into each product's effective license set. */
@Module({
  controllers: [EffectiveLicensesController],
  providers: [EffectiveLicensesProjector],
})
export class SyncAgentModule {}
