/**
 * The "raw limit" consumer, run as its own process by bench/raw.ts: no framework, no validation beyond
 * JSON.parse, no inbox and no effective sets. It pulls the PAIRING and LICENSING durables into one queue
 * and applies up to 1,000 events per transaction as three multi-row upserts (products, pairs, licenses,
 * newest version wins), then acks. What the machine can do at best for the same facts.
 *
 * With BENCH_RAW_VERIFY=1 it also checks each message's Ed25519 signature (the consumers' decode step), and
 * only that: the ceiling of any consumer that must verify signed events, as every consumer must.
 *
 * Environment: BENCH_SCHEMA, BENCH_NAMESPACE, BENCH_DURABLE, BENCH_RAW_VERIFY, PG* and BENCH_NATS_URL.
 */
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { join } from 'node:path';
import { loadEventKeyRing, verifiedEventDecoder } from '#shared';
import { busNames, type EventEnvelope, type LicenseStateV1 } from '#shared/contracts';
import { REPO_ROOT } from './support/config.js';
import { requiredEnv } from './support/env.js';

const BATCH = 1_000;
const schema = requiredEnv('BENCH_SCHEMA');
const names = busNames(requiredEnv('BENCH_NAMESPACE'));
const durable = requiredEnv('BENCH_DURABLE');
/** The services' own decode step (parse, then verify against the development keys the backlog is signed with). */
const verified =
  process.env.BENCH_RAW_VERIFY === '1'
    ? verifiedEventDecoder(
        loadEventKeyRing(
          { dir: join(REPO_ROOT, '.local', 'event-signing-keys'), configured: false, signingKeyId: undefined, production: false },
          'sync-agent',
        ).verification,
        names,
      )
    : undefined;

function eventOf(msg: JsMsg): EventEnvelope {
  if (!verified) return msg.json<EventEnvelope>();
  const decoded = verified(msg);
  if (!decoded.ok) throw new Error(`raw: ${msg.subject} refused: ${decoded.reason}: ${decoded.detail}`);
  return decoded.value;
}

const db = new pg.Client({ application_name: 'bench-raw', options: `-c search_path=${schema}` });
await db.connect();
await db.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
await db.query(`
  CREATE TABLE IF NOT EXISTS products (serial text PRIMARY KEY, model text NOT NULL, firmware_version text NOT NULL,
    account_id text NOT NULL, version integer NOT NULL);
  CREATE TABLE IF NOT EXISTS pairs (pair_id uuid PRIMARY KEY, primary_serial text NOT NULL, secondary_serial text NOT NULL,
    status text NOT NULL, associated_at timestamptz NOT NULL, version integer NOT NULL);
  CREATE INDEX IF NOT EXISTS pairs_primary ON pairs (primary_serial);
  CREATE INDEX IF NOT EXISTS pairs_secondary ON pairs (secondary_serial);
  CREATE TABLE IF NOT EXISTS licenses (license_id uuid PRIMARY KEY, serial text NOT NULL, facts jsonb NOT NULL,
    version integer NOT NULL);
  CREATE INDEX IF NOT EXISTS licenses_serial ON licenses (serial);`);

const nc = await connect({ servers: process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-raw' });
const js = jetstream(nc);
const queue: JsMsg[] = [];
let wake: (() => void) | undefined;

for (const source of ['pairing', 'licensing'] as const) {
  const consumer = await js.consumers.get(names.stream(source), durable);
  await consumer.consume({
    max_messages: 2 * BATCH,
    callback: (msg) => {
      queue.push(msg);
      wake?.();
    },
  });
}

/** Keeps the newest version per key within a batch (one statement cannot update a row twice). */
function newest<T>(rows: Map<string, { version: number; row: T }>, key: string, version: number, row: T): void {
  const current = rows.get(key);
  if (!current || current.version < version) rows.set(key, { version, row });
}

async function apply(batch: JsMsg[]): Promise<void> {
  const products = new Map<
    string,
    { version: number; row: { serial: string; model: string; firmware: string; account: string } }
  >();
  const pairs = new Map<
    string,
    { version: number; row: { id: string; primary: string; secondary: string; status: string; at: string } }
  >();
  const licenses = new Map<string, { version: number; row: LicenseStateV1 }>();
  for (const msg of batch) {
    const e = eventOf(msg);
    switch (e.type) {
      case 'ProductRegistered':
      case 'ProductFirmwareChanged':
        newest(products, e.data.serial, e.streamVersion, {
          serial: e.data.serial,
          model: e.data.model,
          firmware: e.data.firmwareVersion,
          account: e.data.accountId,
        });
        break;
      case 'ProductsAssociated':
      case 'ProductsDissociated':
        newest(pairs, e.data.pairId, e.streamVersion, {
          id: e.data.pairId,
          primary: e.data.primarySerial,
          secondary: e.data.secondarySerial,
          status: e.type === 'ProductsAssociated' ? 'associated' : 'dissociated',
          at: e.data.associatedAt,
        });
        break;
      case 'EntitlementChanged':
        newest(licenses, e.data.license.licenseId, e.streamVersion, e.data.license);
        break;
      case 'EntitlementExpiringSoon':
      case 'EffectiveLicensesChanged':
      case 'StatefulSyncChanged':
        break; // change no fact (and the backlog holds none)
    }
  }
  const p = [...products.values()];
  const q = [...pairs.values()];
  const l = [...licenses.values()];
  await db.query('BEGIN');
  if (p.length > 0) {
    await db.query(
      `INSERT INTO products (serial, model, firmware_version, account_id, version)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
       ON CONFLICT (serial) DO UPDATE SET model = EXCLUDED.model, firmware_version = EXCLUDED.firmware_version,
         account_id = EXCLUDED.account_id, version = EXCLUDED.version WHERE products.version < EXCLUDED.version`,
      [
        p.map((x) => x.row.serial),
        p.map((x) => x.row.model),
        p.map((x) => x.row.firmware),
        p.map((x) => x.row.account),
        p.map((x) => x.version),
      ],
    );
  }
  if (q.length > 0) {
    await db.query(
      `INSERT INTO pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])
       ON CONFLICT (pair_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
       WHERE pairs.version < EXCLUDED.version`,
      [
        q.map((x) => x.row.id),
        q.map((x) => x.row.primary),
        q.map((x) => x.row.secondary),
        q.map((x) => x.row.status),
        q.map((x) => x.row.at),
        q.map((x) => x.version),
      ],
    );
  }
  if (l.length > 0) {
    await db.query(
      `INSERT INTO licenses (license_id, serial, facts, version)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[])
       ON CONFLICT (license_id) DO UPDATE SET facts = EXCLUDED.facts, version = EXCLUDED.version
       WHERE licenses.version < EXCLUDED.version`,
      [l.map((x) => x.row.licenseId), l.map((x) => x.row.serial), l.map((x) => JSON.stringify(x.row)), l.map((x) => x.version)],
    );
  }
  await db.query('COMMIT');
  for (const msg of batch) msg.ack();
}

let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
  wake?.();
});

while (!stopping) {
  if (queue.length === 0) {
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
    continue;
  }
  await apply(queue.splice(0, BATCH));
}
await nc.drain();
await db.end();
