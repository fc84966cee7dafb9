/**
 * `npm run rebuild [-- --drop-old]` (or `node dist/apps/sync-agent/src/rebuild/main.js` where the build exists):
 * rebuilds the sync agent's projection from the start of the streams and switches over without downtime. It
 * reads the sync agent's own environment (PG*, DATABASE_URL, DB_SCHEMA, NATS_URL, BUS_NAMESPACE, …) with the sync
 * agent's defaults, and reaches NATS through the sync agent's bus module.
 * Exit 0: switched over; 1: not switched (the reason is printed); 2: wrong usage; 78: bad configuration.
 */
import { parseArgs } from 'node:util';
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Bus, BusModule, ConfigurationError, ServiceLifecycle, ServiceModule, configOrExit, type ServiceConfig } from '#shared';
import { SYNC_AGENT_SERVICE } from '../sync-agent.module.js';
import { RebuildError, rebuildProjection } from './rebuild.js';

const USAGE = `usage: npm run rebuild -- [--drop-old]

Rebuilds the sync agent's projection (inbox, products, pairs, licenses, replacements) from the start of the
PAIRING and LICENSING streams into new tables while the sync agent keeps running, compares them with the live
tables and switches over in one transaction. Uses the sync agent's environment variables.

  --drop-old   drop the old tables after the switch-over (default: keep them in schema <DB_SCHEMA>_old_<date>)

exit status: 0 switched over, 1 not switched (reason printed), 2 usage error, 78 bad configuration`;

let dropOld = false;
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { 'drop-old': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  dropOld = values['drop-old'] ?? false;
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

const config = configOrExit(SYNC_AGENT_SERVICE);
const log = { log: console.log, warn: (message: string) => console.warn(`rebuild: ${message}`), error: console.error };

/** The sync agent's service values (its configuration and event keys) and its bus, without its HTTP API or consumers. */
function rebuildModule(config: ServiceConfig): Type<unknown> {
  @Module({ imports: [ServiceModule.forRoot({ config, log, definition: SYNC_AGENT_SERVICE }), BusModule] })
  class RebuildModule {}
  return RebuildModule;
}

let module: Type<unknown>;
try {
  module = rebuildModule(config);
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  console.error(`rebuild: ${error.message}`);
  process.exit(78);
}
const app = await NestFactory.createApplicationContext(module, { logger: false });
const bus = app.get(Bus);
try {
  // Waits for NATS as the sync agent does (named, with the command that starts it), until Ctrl-C.
  await bus.connect(app.get(ServiceLifecycle).signal);
  await rebuildProjection({ config, dropOld, nats: bus.nats });
  process.exitCode = 0;
} catch (error) {
  console.error(`rebuild: ${error instanceof RebuildError ? error.message : ((error as Error).stack ?? String(error))}`);
  process.exitCode = 1;
} finally {
  await bus.close();
  await app.close();
}
process.exit(process.exitCode);
