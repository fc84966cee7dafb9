import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  BatchingConsumer,
  busNames,
  contractOf,
  loadEventKeyRing,
  ensureDurableConsumer,
  ensureEventStream,
  pgClientConfig,
  type BusNames,
  type Clock,
  type EffectiveLicenseSetV1,
  type EventEnvelope,
  type EventSigningKey,
  type EventSource,
  type ServiceConfig,
} from '#shared';
import {
  createTestEventStore,
  deleteStreams,
  eventually,
  publishSignedEnvelope,
  testBusNamespace,
  type TestEventStore,
} from '#shared/testing';
import { applyEvent, effectiveSetOf, emptyProjection } from '../domain/effective-licenses/projection.js';
import { History } from '../domain/effective-licenses/testing/history.js';
import { SYNC_AGENT_MIGRATIONS } from '../infrastructure/migrations.js';
import { projectBatch } from '../read-models/effective-licenses/effective-licenses.projector.js';
import { loadWorkingSet } from '../facts/facts-store.js';
import { projectionConsumers } from '../facts/projection-consumers.js';
import { REBUILD_DURABLE, RebuildError, rebuildProjection, type RebuildResult } from './rebuild.js';
import { holdProjectorLock, projectorLockKey } from './rebuild-tables.js';

/**
 * The rebuild against the real PostgreSQL and NATS, with a live projector (the sync agent's consumer and
 * projectBatch on its own schema) applying traffic and readers reading the whole time.
 */

jest.setTimeout(120_000);

const LICENSES_OF_SERIAL = 'SELECT count(*) AS n FROM licenses WHERE serial = $1';
const NOW = new Date('2025-06-01T00:00:00.000Z');
const clock: Clock = { now: () => NOW };

let db: TestEventStore;
let names: BusNames;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let live: BatchingConsumer;
let config: ServiceConfig;
// Producers' keys of this file: the rebuild applies only events signed by their producer, as the live agent does.
const eventKeys = {
  dir: mkdtempSync(join(tmpdir(), 'rebuild-event-keys-')),
  configured: false,
  signingKeyId: undefined,
  production: false,
};
const signingKeys = new Map<EventSource, EventSigningKey>();
function publishSigned(js: JetStreamClient, names: BusNames, envelope: EventEnvelope) {
  const source = contractOf(envelope.type).source;
  if (!signingKeys.has(source)) signingKeys.set(source, loadEventKeyRing(eventKeys, source).signing);
  return publishSignedEnvelope(js, names, envelope, signingKeys.get(source)!);
}
afterAll(() => rmSync(eventKeys.dir, { recursive: true, force: true }));
const dropAfter: string[] = [];

beforeAll(async () => {
  db = await createTestEventStore('rebuild', SYNC_AGENT_MIGRATIONS);
  names = busNames(testBusNamespace('rebuild'));
  nc = await connect({ servers: 'nats://127.0.0.1:4222', name: 'rebuild-int' });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  for (const source of ['pairing', 'licensing'] as const) await ensureEventStream(jsm, names, source);
  for (const spec of projectionConsumers(names)) await ensureDurableConsumer(jsm, spec);
  live = new BatchingConsumer(js, projectionConsumers(names), async (batch) => {
    await projectBatch(db.store, clock, batch);
  });
  await live.start();
  config = {
    service: 'sync-agent',
    http: { host: '127.0.0.1', port: 0, headersTimeoutSeconds: 10, requestTimeoutSeconds: 10, trustProxy: false },
    postgres: db.settings,
    nats: { servers: ['nats://127.0.0.1:4222'], inboxPrefix: '_INBOX_sync-agent' },
    busNamespace: names.namespace,
    streamReplicas: 1,
    logFormat: 'text',
    logLevel: 'log',
    expiryWarningDays: 30,
    eventKeys,
    rateLimitPerMinute: 60_000,
    rateLimitBurst: 1_000,
    failedAuthPerMinute: 60,
    apiKeyCacheSeconds: 5,
    streamMaxBytes: 1024 ** 3,
  };
});

afterAll(async () => {
  await live?.stop();
  if (nc) {
    await deleteStreams(nc, names).catch(() => undefined);
    await nc.close();
  }
  if (db) {
    for (const schema of dropAfter) await db.dataSource.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await db.dataSource.query(
      `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(`${db.settings.schema.slice(0, 40)}_rebuild`)} CASCADE`,
    );
    await db.dispose();
  }
});

const serial = (prefix: string, i: number) => `${prefix}${i.toString(16).toUpperCase().padStart(11, '0')}`;

/** A mixed history of `pairs` pairs: grants, renewals, revocations, dissociations, re-pairings, replacements, transfers. */
function mixedHistory(h: History, prefix: string, pairs: number): string[] {
  const serials: string[] = [];
  for (let i = 0; i < pairs; i++) {
    const [p, s, r] = [serial(prefix, 3 * i), serial(prefix, 3 * i + 1), serial(prefix, 3 * i + 2)];
    serials.push(p, s, r);
    h.register(p);
    h.register(s);
    h.register(r);
    h.associate(p, s);
    const av = h.grant(p, 'GATEWAY_AV');
    const ips = h.grant(p, 'IPS', '2030-01-01T00:00:00.000Z');
    h.grant(s, 'GMS_PREVENTIVE_MAINTENANCE');
    if (i % 3 === 0) h.revoke(ips.licenseId);
    if (i % 4 === 1) h.renew(ips.licenseId, '2031-01-01T00:00:00.000Z');
    if (i % 5 === 2) {
      h.dissociate(p);
      h.associate(p, s);
    }
    if (i % 6 === 3) {
      const replaced = h.replace(p, r);
      if (replaced) h.transferAll(p, replaced.successorSerial);
    }
    if (i % 7 === 4) h.revoke(av.licenseId);
  }
  return serials;
}

/** The effective sets the pure projection gives for `events` (any order: it converges). */
function expectedSets(
  events: readonly EventEnvelope[],
  serials: readonly string[],
): Record<string, EffectiveLicenseSetV1 | null> {
  const state = events.reduce(applyEvent, emptyProjection());
  return Object.fromEntries(serials.map((s) => [s, effectiveSetOf(state, s, NOW)]));
}

async function storedSet(s: string): Promise<EffectiveLicenseSetV1 | null> {
  const state = await db.store.transaction((tx) => loadWorkingSet(tx, [s]));
  return effectiveSetOf(state, s, NOW);
}

async function liveCaughtUp(): Promise<void> {
  await eventually(
    async () => {
      for (const spec of projectionConsumers(names)) {
        const info = await jsm.consumers.info(spec.stream, spec.durable);
        if (info.num_pending + info.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, description: 'the live projector to apply every published event' },
  );
}

describe('npm run rebuild', () => {
  it('rebuilds under live traffic into identical tables, switches over without a failed or incomplete read, and re-emits nothing', async () => {
    // Before: a history the live projector has applied.
    const before = new History(Date.parse('2025-01-01T00:00:00.000Z'), 1);
    const stable = mixedHistory(before, 'A', 24);
    for (const e of before.events) await publishSigned(js, names, e);
    await liveCaughtUp();
    const expectedStable = expectedSets(before.events, stable);
    for (const s of stable) expect(await storedSet(s)).toEqual(expectedStable[s]);
    const last = (await db.dataSource.query<{ last: string | null }[]>('SELECT max(global_position) AS last FROM events'))[0]
      ?.last;
    const announcedBefore = await db.dataSource.query<{ n: string }[]>('SELECT count(*) AS n FROM events');

    // Readers, the whole time: the effective sets of units no later event touches (so they must never change),
    // and a named prepared statement (a plan PostgreSQL caches per connection) over the licenses table.
    const withLicenses = stable.filter((s) => (expectedStable[s]?.licenses.length ?? 0) > 0);
    const ownLicenses = Object.fromEntries(stable.map((s) => [s, before.licenses.filter((l) => l.serial === s).length]));
    const reads = { before: 0, after: 0, failures: [] as string[] };
    let swappedAt: number | null = null;
    let reading = true;
    const reader = (async () => {
      for (let i = 0; reading; i++) {
        const s = withLicenses[i % withLicenses.length]!;
        try {
          const set = await storedSet(s);
          if (JSON.stringify(set) !== JSON.stringify(expectedStable[s])) reads.failures.push(`${s}: ${JSON.stringify(set)}`);
        } catch (error) {
          reads.failures.push(`${s}: ${(error as Error).message}`);
        }
        if (swappedAt === null) reads.before++;
        else reads.after++;
      }
    })();
    const prepared = new pg.Client(pgClientConfig(db.settings));
    await prepared.connect();
    const preparedReader = (async () => {
      for (let i = 0; reading; i++) {
        const s = stable[i % stable.length]!;
        try {
          const { rows } = await prepared.query<{ n: string }>({
            name: 'licenses-of-serial',
            text: LICENSES_OF_SERIAL,
            values: [s],
          });
          if (Number(rows[0]!.n) !== ownLicenses[s]) reads.failures.push(`prepared ${s}: ${rows[0]!.n} licenses`);
        } catch (error) {
          reads.failures.push(`prepared ${s}: ${(error as Error).message}`);
        }
      }
    })();

    // Live traffic while the rebuild runs (and after it): new units only.
    const during = new History(Date.parse('2025-03-01T00:00:00.000Z'), 2);
    const fresh = mixedHistory(during, 'B', 40);
    let published = 0;
    const traffic = (async () => {
      for (const e of during.events) {
        await publishSigned(js, names, e);
        if (++published % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await eventually(() => published > 20, { description: 'traffic to start' });

    const lines: string[] = [];
    let result: RebuildResult;
    try {
      result = await rebuildProjection({
        config,
        clock,
        log: (line) => lines.push(line),
        progressIntervalMs: 100,
        catchUpUnderLock: 20,
      });
    } finally {
      swappedAt = Date.now();
    }
    dropAfter.push(result.schemas.archive);
    await traffic;
    await liveCaughtUp();
    await eventually(() => reads.after >= 20, { description: 'reads after the switch-over' });
    reading = false;
    await Promise.all([reader, preparedReader]);
    // The prepared statement's cached plan was made for the old table: emptied, it would now count nothing.
    await db.dataSource.query(`TRUNCATE ${pg.escapeIdentifier(result.schemas.archive)}.licenses`);
    for (const s of stable) {
      const { rows } = await prepared.query<{ n: string }>({ name: 'licenses-of-serial', text: LICENSES_OF_SERIAL, values: [s] });
      expect({ s, n: Number(rows[0]!.n) }).toEqual({ s, n: ownLicenses[s] });
    }
    await prepared.end();

    // The rebuild switched, found nothing the catch-up does not explain, and said what it did.
    expect(result.swapped).toBe(true);
    expect(result.comparison?.inbox.missing).toBe(0);
    expect(result.comparison?.tables.map((t) => [t.table, t.unexplained])).toEqual([
      ['products', 0],
      ['pairs', 0],
      ['licenses', 0],
      ['replacements', 0],
    ]);
    expect(lines.join('\n')).toMatch(/events\/s; .*PAIRING at \d+ of \d+/);
    expect(lines.join('\n')).toMatch(/inbox\s+\d+\s+\d+/);
    expect(lines.join('\n')).toMatch(/switched over/);

    // No read failed or saw an incomplete set, before, during or after the switch-over.
    expect(reads.failures).toEqual([]);
    expect(reads.before).toBeGreaterThan(0);
    expect(reads.after).toBeGreaterThan(0);

    // The live agent kept projecting into the new tables: every unit's set is the in-order result of everything.
    const all = [...before.events, ...during.events];
    const expected = expectedSets(all, [...stable, ...fresh]);
    for (const s of [...stable, ...fresh]) expect({ s, set: await storedSet(s) }).toEqual({ s, set: expected[s] });
    const [counted] = await db.dataSource.query<{ n: string }[]>(
      'SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1::uuid[])',
      [all.map((e) => e.eventId)],
    );
    expect(Number(counted?.n)).toBe(all.length);

    // Nothing re-emitted: every event the sync agent appended since was caused by the new traffic.
    const since = await db.dataSource.query<{ cause: string }[]>(
      `SELECT metadata->>'causationId' AS cause FROM events WHERE global_position > $1`,
      [last ?? 0],
    );
    const duringIds = new Set(during.events.map((e) => e.eventId));
    expect(since.filter((r) => !duringIds.has(r.cause))).toEqual([]);
    expect(Number(announcedBefore[0]!.n)).toBeGreaterThan(0);

    // The old tables are kept under a dated name, with the same indexes; the shadow schema and the temporary
    // consumers are gone.
    expect(result.oldTablesSchema).toMatch(/_old_\d{8}_\d{6}$/);
    const indexes = (schema: string) =>
      db.dataSource.query<{ tablename: string; indexname: string; def: string }[]>(
        `SELECT tablename, indexname, replace(indexdef, quote_ident($1) || '.', '') AS def FROM pg_indexes
          WHERE schemaname = $1 AND tablename IN ('inbox', 'products', 'pairs', 'licenses', 'replacements')
          ORDER BY tablename, indexname`,
        [schema],
      );
    expect(await indexes(db.settings.schema)).toEqual(await indexes(result.schemas.archive));
    const schemas = await db.dataSource.query<{ nspname: string }[]>('SELECT nspname FROM pg_namespace WHERE nspname = $1', [
      result.schemas.shadow,
    ]);
    expect(schemas).toEqual([]);
    for (const spec of projectionConsumers(names)) {
      await expect(jsm.consumers.info(spec.stream, REBUILD_DURABLE)).rejects.toThrow(/consumer not found/i);
    }
  });

  it('refuses to switch over when the live tables hold what no event explains, and changes nothing', async () => {
    await db.dataSource.query(
      `INSERT INTO products (serial, model, firmware_version, account_id, version, event_id)
       VALUES ('DEADBEEF0000', 'NSA 2700', '7.0.1', 'acme', 1, '00000000-0000-4000-8000-0000000000ff')`,
    );
    const lines: string[] = [];
    const error = await rebuildProjection({ config, clock, log: (line) => lines.push(line), progressIntervalMs: 100 }).then(
      () => null,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(RebuildError);
    expect((error as RebuildError).message).toMatch(/1 difference\(s\).*nothing was switched/);
    expect(lines.join('\n')).toMatch(/products: 1 row\(s\) differ, e\.g\. DEADBEEF0000/);
    const rows = await db.dataSource.query<unknown[]>("SELECT 1 FROM products WHERE serial = 'DEADBEEF0000'");
    expect(rows).toHaveLength(1);
    await db.dataSource.query("DELETE FROM products WHERE serial = 'DEADBEEF0000'");
  });

  it('holds the very lock the live projector takes for each batch', async () => {
    const h = new History(Date.parse('2025-05-01T00:00:00.000Z'), 3);
    const event = h.register(serial('C', 1));
    const holder = new pg.Client(pgClientConfig(db.settings));
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holdProjectorLock(holder, db.settings.schema);
      let settled = false;
      const batch = projectBatch(db.store, clock, [event]).finally(() => (settled = true));
      await eventually(
        async () => {
          const [waiting] = await db.dataSource.query<{ n: string }[]>(
            `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
            [projectorLockKey(db.settings.schema)],
          );
          return Number(waiting?.n) > 0;
        },
        { description: 'the projector batch to wait for the lock' },
      );
      expect(settled).toBe(false);
      await holder.query('COMMIT');
      await expect(batch).resolves.toEqual({ applied: 1, redelivered: 0, refused: [] });
    } finally {
      await holder.end();
    }
  });
});
