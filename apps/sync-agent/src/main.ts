import { configOrExit, runService } from '#shared';
import { SYNC_AGENT_MIGRATIONS } from './infrastructure/migrations.js';
import { EffectiveLicensesProjector } from './read-models/effective-licenses/effective-licenses.projector.js';
import { projectionConsumers } from './read-models/failover-readiness/projection-consumers.js';
import { SyncAgentModule } from './sync-agent.module.js';

const config = configOrExit({
  service: 'sync-agent',
  portVariable: 'SYNC_AGENT_PORT',
  defaultPort: 3003,
  defaultDatabase: 'ha_sync_agent',
});

await runService(
  () => SyncAgentModule,
  { config, migrations: SYNC_AGENT_MIGRATIONS, publishes: 'sync-agent' },
  (runtime, app) => {
    const projector = app.get(EffectiveLicensesProjector);
    runtime.consume({
      sources: ['pairing', 'licensing'],
      consumers: projectionConsumers,
      handler: projector.handle,
    });
  },
);
