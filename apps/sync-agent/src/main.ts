import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiKeyVerifier, ConfigurationError, FailedAuthLimiter, runService } from '#shared';
import { consoleUpstreams, type ConsoleUpstreams } from './console/console-config.js';
import { CONSOLE_API_PREFIX, consoleProxy } from './console/console-proxy.js';
import { serveConsole } from './console/console-static.js';
import { SYNC_AGENT_SERVICE, SyncAgentModule } from './sync-agent.module.js';

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

// The web console (/console/) and its way to pairing and licensing (docs/decisions.md, the console): Express
// middleware beside Nest's routes.
await runService(SyncAgentModule, SYNC_AGENT_SERVICE, (app: NestExpressApplication) => {
  app.use(
    CONSOLE_API_PREFIX,
    consoleProxy(upstreams, { verifier: app.get(ApiKeyVerifier), failures: app.get(FailedAuthLimiter) }),
  );
  if (!serveConsole(app)) console.warn('sync-agent: the console was not built (dist/console); /console/ is not served');
});
