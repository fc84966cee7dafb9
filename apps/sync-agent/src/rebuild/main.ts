/**
 * `npm run rebuild [-- --drop-old]` (or `node dist/apps/sync-agent/src/rebuild/main.js` where the build exists):
 * rebuilds the sync agent's projection from the start of the streams and switches over without downtime. It
 * reads the sync agent's own environment (PG*, DATABASE_URL, DB_SCHEMA, NATS_URL, BUS_NAMESPACE, …).
 * Exit 0: switched over; 1: not switched (the reason is printed); 2: wrong usage; 78: bad configuration.
 */
import { parseArgs } from 'node:util';
import { configOrExit } from '#shared';
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

// The same defaults as the sync agent (main.ts), so both find the same database, schema and streams.
const config = configOrExit({
  service: 'sync-agent',
  portVariable: 'SYNC_AGENT_PORT',
  defaultPort: 3003,
  defaultDatabase: 'ha_sync_agent',
});

try {
  await rebuildProjection({ config, dropOld });
  process.exit(0);
} catch (error) {
  console.error(`rebuild: ${error instanceof RebuildError ? error.message : ((error as Error).stack ?? String(error))}`);
  process.exit(1);
}
