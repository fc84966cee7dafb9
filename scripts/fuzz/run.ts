/**
 * `npm run fuzz`: starts the three services on loopback (own schemas in the `ha_fuzz` database, own bus
 * namespace, a random operator key), sends FUZZ_HTTP_REQUESTS (default 10,000) hostile HTTP requests across
 * every endpoint (scripts/fuzz/http.ts), prints the counts by response class, status and category, then
 * FUZZ_BUS_MESSAGES forged messages (scripts/fuzz/bus.ts), then measures the abuse bounds for FUZZ_ABUSE_SECONDS
 * (default 15) per flood (scripts/fuzz/abuse.ts), and exits 1 unless there was no 5xx, no accepted change, no
 * changed table, every forged message was rejected and every bound held. FUZZ_SEED replays a run.
 * Needs `npm run build` (the npm script does it), PostgreSQL and NATS on localhost.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { fuzzBus } from './bus.js';
import { fuzzHttp, type HttpFuzzReport } from './http.js';
import { describeAbuse, measureAbuse } from './abuse.js';
import { startSystem, type RunningSystem } from '#shared/testing';
import { DEFAULT_STREAM_MAX_BYTES, SERVICES, loadServiceConfig, pickServiceSettings } from '#shared/tools';

const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  password: process.env.PGPASSWORD,
  database: 'ha_fuzz',
};
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

function print(report: HttpFuzzReport, seed: number, seconds: number): void {
  const table = (title: string, counts: Record<string, number>) =>
    console.log(
      `${title}\n${Object.entries(counts)
        .sort()
        .map(([k, n]) => `  ${k.padEnd(16)} ${n}`)
        .join('\n')}`,
    );
  console.log(`\nHTTP fuzz: ${report.sent} requests in ${seconds.toFixed(1)} s (seed ${seed})`);
  table('by response class:', report.byClass);
  table('by status:', report.byStatus);
  table('by category:', report.byCategory);
  console.log(
    `5xx: ${report.fiveXx}; accepted changes: ${report.acceptedChanges}; changed tables: ${report.changedTables.length === 0 ? 'none' : report.changedTables.join(', ')}`,
  );
  for (const failure of report.failures) console.log(`  ! ${failure}`);
}

const requests = Number(process.env.FUZZ_HTTP_REQUESTS ?? 10_000);
const abuseSeconds = Number(process.env.FUZZ_ABUSE_SECONDS ?? 15);
if (!Number.isFinite(abuseSeconds) || abuseSeconds < 1 || abuseSeconds > 300) {
  console.error('FUZZ_ABUSE_SECONDS must be 1-300');
  process.exit(2);
}
const seed = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32BE() % 2 ** 31);
if (!Number.isInteger(requests) || requests < 1 || requests > 1_000_000) {
  console.error('FUZZ_HTTP_REQUESTS must be 1-1000000');
  process.exit(2);
}
const namespace = `fuzz_${randomBytes(4).toString('hex')}`;
const operatorKey = `hlsk_${randomBytes(32).toString('base64url')}`;
/**
 * The settings of the abuse bounds this run measures: its own per-key rate, unless its environment sets these
 * variables on purpose. Nothing else of the environment reaches the services (no NATS credentials, no key files).
 */
const ABUSE_SETTINGS = [
  'RATE_LIMIT_PER_MINUTE',
  'RATE_LIMIT_BURST',
  'FAILED_AUTH_PER_MINUTE',
  'HTTP_HEADERS_TIMEOUT_SECONDS',
  'HTTP_REQUEST_TIMEOUT_SECONDS',
];
const settingsEnv: Record<string, string> = {
  // Half the default per-key rate (60,000/min), so that one client on a 2-core machine, beside the services,
  // offers about twice the limit and the measurement shows the limit binding, not the machine's ceiling.
  RATE_LIMIT_PER_MINUTE: '30000',
  ...Object.fromEntries(Object.entries(pickServiceSettings(process.env)).filter(([name]) => ABUSE_SETTINGS.includes(name))),
};
let system: RunningSystem | undefined;
let exitCode = 1;
try {
  console.log(`starting pairing, licensing and sync-agent (database ${PG.database}, namespace ${namespace})`);
  system = await startSystem('fuzz', {
    namespace,
    postgres: PG,
    natsUrl: NATS_URL,
    readyTimeoutMs: 120_000,
    // Its own namespace on the shared bus, with the services' default stream size.
    env: { ...settingsEnv, OPERATOR_API_KEY: operatorKey, STREAM_MAX_BYTES: String(DEFAULT_STREAM_MAX_BYTES) },
  });
  const urls = [system.pairing, system.licensing, system.syncAgent];
  const schemas = SERVICES.map(({ name }) => system!.schemas[name]);
  console.log(`sending ${requests} requests (seed ${seed})`);
  const started = performance.now();
  const report = await fuzzHttp(
    { pairing: urls[0]!, licensing: urls[1]!, syncAgent: urls[2]!, operatorKey, postgres: PG, schemas },
    { requests, seed, concurrency: 8, log: (line) => console.log(line) },
  );
  print(report, seed, (performance.now() - started) / 1000);
  // The bus half: malformed, forged, tampered, moved and replayed messages from a client without a signing key.
  const messages = Number(process.env.FUZZ_BUS_MESSAGES ?? 1_000);
  const db = new pg.Client(PG);
  await db.connect();
  const { rows } = await db.query<{ serial: string }>(
    `SELECT serial FROM ${pg.escapeIdentifier(schemas[2]!)}.products ORDER BY serial LIMIT 50`,
  );
  await db.end();
  const bus = await fuzzBus({
    natsUrl: NATS_URL,
    namespace,
    syncAgentUrl: urls[2]!,
    apiKey: operatorKey,
    serials: rows.map((r) => r.serial),
    messages,
    seed,
    log: (line) => console.log(line),
  });
  console.log(
    `\nBus fuzz: ${bus.sent} messages; rejected ${bus.rejected} ${JSON.stringify(bus.rejectedByReason)}; dead-lettered ${bus.deadLettered}; state changes ${bus.stateChanges}`,
  );
  // The abuse bounds, with the settings the services run with (defaults unless the environment says otherwise).
  const settings = loadServiceConfig(
    { service: 'fuzz', portVariable: 'FUZZ_PORT', defaultPort: 1, defaultDatabase: PG.database },
    settingsEnv,
  );
  const abuse = await measureAbuse(
    { pairing: urls[0]!, licensing: urls[1]!, syncAgent: urls[2]!, operatorKey, settings: { ...settings, ...settings.http } },
    { floodSeconds: abuseSeconds, perKeySeconds: abuseSeconds, log: (line) => console.log(line) },
  );
  console.log(
    `\nAbuse bounds:\n${describeAbuse(abuse)
      .map((line) => `  ${line}`)
      .join('\n')}`,
  );
  for (const failure of abuse.failures) console.log(`  ! ${failure}`);
  const passed =
    abuse.failures.length === 0 &&
    report.fiveXx === 0 &&
    report.acceptedChanges === 0 &&
    report.changedTables.length === 0 &&
    bus.rejected === bus.sent &&
    bus.deadLettered === bus.sent &&
    bus.stateChanges === 0;
  console.log(
    passed
      ? '\nPASS: no 5xx, nothing accepted, no state changed, every forged message rejected and dead-lettered, every abuse bound held'
      : '\nFAIL',
  );
  exitCode = passed ? 0 : 1;
} catch (error) {
  console.error(`fuzz failed: ${(error as Error).message}`);
} finally {
  await system?.stop().catch((error: Error) => console.error(`fuzz: ${error.message}`));
}
process.exit(exitCode);
