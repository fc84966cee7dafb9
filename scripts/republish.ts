/**
 * `npm run republish -- --service <pairing|licensing|sync-agent> --from <position> [--to <position>]`
 *
 * Publishes a service's event store again from a global position (for when JetStream lost events), each signed
 * with the service's event-signing key and with `Nats-Msg-Id` = its event id, printing progress. Configured by the
 * same environment as the service (DATABASE_URL or PG*, PGDATABASE, DB_SCHEMA, NATS_URL and its bus user,
 * BUS_NAMESPACE, EVENT_KEYS_DIR). Safe to repeat: JetStream drops ids it still remembers and the consumers' inboxes
 * absorb the rest. The relays do this by themselves when they notice a loss; this is for an operator who knows of
 * one first. Exit 0 done, 1 failed, 2 usage error.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  DUPLICATE_WINDOW_MS,
  busNames,
  ensureEventStream,
  loadEventKeyRing,
  loadServiceConfig,
  natsAuthOptions,
  pgClientConfig,
  republishEvents,
  type EventSource,
} from '#shared';

const SERVICES: Record<EventSource, { portVariable: string; defaultPort: number; defaultDatabase: string }> = {
  pairing: { portVariable: 'PAIRING_PORT', defaultPort: 3001, defaultDatabase: 'ha_pairing' },
  licensing: { portVariable: 'LICENSING_PORT', defaultPort: 3002, defaultDatabase: 'ha_licensing' },
  'sync-agent': { portVariable: 'SYNC_AGENT_PORT', defaultPort: 3003, defaultDatabase: 'ha_sync_agent' },
};

const USAGE = `usage: npm run republish -- --service <pairing|licensing|sync-agent> --from <position> [--to <position>]

  --service   whose event store to publish (picks its default database and its stream)
  --from      first global position (inclusive, 1 = the first event)
  --to        last global position (inclusive; default: the newest event)

The database, schema, bus and signing key come from the service's environment (DATABASE_URL or PG*, PGDATABASE,
DB_SCHEMA, NATS_URL, NATS_USER/NATS_PASSWORD, BUS_NAMESPACE, EVENT_KEYS_DIR). exit status: 0 done, 1 failed, 2 usage error`;

function usage(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function position(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,18}$/.test(value)) usage(`--${name} must be a whole number of 1 or more (got "${value}")`);
  return BigInt(value);
}

let args;
try {
  args = parseArgs({
    args: process.argv.slice(2),
    options: {
      service: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (error) {
  usage((error as Error).message);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const service = args.service as EventSource | undefined;
if (!service || !Object.hasOwn(SERVICES, service)) usage('--service must be pairing, licensing or sync-agent');
const from = position('from', args.from) ?? usage('--from is required');
const to = position('to', args.to);
if (to !== undefined && to < from) usage('--to must not be before --from');

let config;
let signer;
try {
  config = loadServiceConfig({ service, ...SERVICES[service] });
  signer = loadEventKeyRing(config.eventKeys, service).signing;
} catch (error) {
  usage((error as Error).message);
}

const db = new pg.Client(pgClientConfig(config.postgres));
const nc = await connect({ ...natsAuthOptions(config.nats), servers: config.nats.servers, name: `republish-${service}` }).catch(
  (error: Error) => {
    console.error(`cannot connect to NATS at ${config.nats.servers.join(',')}: ${error.message}`);
    process.exit(1);
  },
);
try {
  await db.connect();
  const names = busNames(config.busNamespace);
  await ensureEventStream(await jetstreamManager(nc), names, service, { maxBytes: config.streamMaxBytes });
  console.log(
    `republishing ${service} events from position ${from}${to ? ` to ${to}` : ''} (${config.postgres.database}.${config.postgres.schema} → ${names.stream(service)})`,
  );
  const result = await republishEvents({
    db,
    js: jetstream(nc),
    names,
    signer,
    from,
    to,
    onProgress: (p) =>
      console.log(
        `  ${p.done}/${p.total} events (up to position ${p.lastPosition}): ${p.stored} stored, ${p.duplicates} duplicates`,
      ),
  });
  console.log(
    `done: ${result.total} events, ${result.stored} stored again, ${result.duplicates} dropped by JetStream as duplicates`,
  );
  if (result.duplicates > 0)
    console.log(
      `note: JetStream drops an id it saw within its duplicate window (${DUPLICATE_WINDOW_MS / 1000} s), even if the stream lost that message since (a purge); run again after the window to store those too`,
    );
} catch (error) {
  console.error(`republish failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await db.end().catch(() => undefined);
  await nc.close();
}
