import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiKeyVerifier, ConfigurationError, FailedAuthLimiter, configOrExit, runService } from '#shared';
import { consoleUpstreams, type ConsoleUpstreams } from './console/console-config.js';
import { CONSOLE_API_PREFIX, consoleProxy } from './console/console-proxy.js';
import { serveConsole } from './console/console-static.js';
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

function consoleUpstreamsOrExit(): ConsoleUpstreams {
  try {
    return consoleUpstreams(process.env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    console.error(`sync-agent: ${error.message}`);
    process.exit(78);
  }
}
const upstreams = consoleUpstreamsOrExit();

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
    // The web console (/console/) and its way to pairing and licensing (docs/decisions.md, the console).
    app.use(
      CONSOLE_API_PREFIX,
      consoleProxy(upstreams, { verifier: app.get(ApiKeyVerifier), failures: app.get(FailedAuthLimiter) }),
    );
    if (!serveConsole(app as NestExpressApplication))
      console.warn('sync-agent: the console was not built (dist/console); /console/ is not served');
  },
);
