/**
 * Effective-set query latency with `queryLicenses` licenses in the database: a sync agent on its own
 * (idle) namespace, its products, pairs and licenses tables bulk-loaded in SQL (10 licenses per product on
 * average, all products paired, every SKU, 10 % perpetual, 5 % revoked), then
 * GET /products/:serial/effective-licenses for random Secondaries (the two-hop case), one client after
 * another for latency, then 16 at a time for throughput.
 */
import pg from 'pg';
import { LICENSE_CATALOG } from '#shared/contracts';
import { namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { httpRequest, inParallel } from './support/http.js';
import { startService } from './support/processes.js';
import { compact, round, summarize, type LatencySummary } from './support/stats.js';

export interface QueryResult {
  readonly licenses: number;
  readonly products: number;
  readonly loadSeconds: number;
  /** One request at a time. */
  readonly latencyMs: LatencySummary;
  /** 16 concurrent clients. */
  readonly concurrentRequestsPerSec: number;
  readonly concurrentLatencyMs: LatencySummary;
}

const SERIAL_SQL = (n: string) => `upper(lpad(to_hex(${n}), 12, '0'))`;

async function hasColumn(ctx: BenchContext, schema: string, table: string, column: string): Promise<boolean> {
  const { rowCount } = await ctx.db.query(
    'SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3',
    [schema, table, column],
  );
  return (rowCount ?? 0) > 0;
}

export async function measureQuery(ctx: BenchContext): Promise<QueryResult> {
  const namespace = namespaceFor('query');
  const agent = await startService('sync-agent', { namespace, schema: namespace });
  try {
    const licenses = ctx.config.queryLicenses;
    const products = Math.max(2, Math.round(licenses / 10 / 2) * 2);
    const schema = pg.escapeIdentifier(namespace);
    const started = performance.now();
    // Newer projections record the event each fact came from; fill it with a fresh id where the column exists.
    const eventId = async (table: string) =>
      (await hasColumn(ctx, namespace, table, 'event_id'))
        ? { column: ', event_id', value: ', gen_random_uuid()' }
        : { column: '', value: '' };
    const [productsEvent, pairsEvent, licensesEvent] = [
      await eventId('products'),
      await eventId('pairs'),
      await eventId('licenses'),
    ];
    await ctx.db.query(
      `INSERT INTO ${schema}.products (serial, model, firmware_version, account_id, version${productsEvent.column})
       SELECT ${SERIAL_SQL('g')}, 'NSA 2700', '7.0.1', 'acct-' || (g % 997), 1${productsEvent.value}
         FROM generate_series(1, $1::int) AS g`,
      [products],
    );
    await ctx.db.query(
      `INSERT INTO ${schema}.pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version${pairsEvent.column})
       SELECT gen_random_uuid(), ${SERIAL_SQL('2 * g - 1')}, ${SERIAL_SQL('2 * g')}, 'associated', now() - interval '30 days', 1${pairsEvent.value}
         FROM generate_series(1, $1::int) AS g`,
      [products / 2],
    );
    const skus = LICENSE_CATALOG.map((s) => s.sku);
    for (let from = 1; from <= licenses; from += 100_000) {
      await ctx.db.query(
        `INSERT INTO ${schema}.licenses (license_id, serial, facts, version${licensesEvent.column})
         SELECT id, serial, jsonb_build_object('licenseId', id, 'serial', serial, 'sku', ($3::text[])[1 + g % $4::int],
             'trial', g % 20 = 7, 'expiresAt', CASE WHEN g % 10 = 3 THEN NULL
               ELSE to_char((now() + (30 + g % 900) * interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
             'status', CASE WHEN g % 20 = 11 THEN 'revoked' ELSE 'active' END,
             'grantedAt', '2025-01-15T10:00:00.000Z',
             'revokedAt', CASE WHEN g % 20 = 11 THEN '2025-06-01T00:00:00.000Z' END), 1${licensesEvent.value}
           FROM (SELECT gen_random_uuid() AS id, ${SERIAL_SQL(`1 + (g::bigint * 7919) % ${products}`)} AS serial, g
                   FROM generate_series($1::int, $2::int) AS g) AS s`,
        [from, Math.min(licenses, from + 99_999), skus, skus.length],
      );
      ctx.log(`query: loaded ${Math.min(licenses, from + 99_999)}/${licenses} licenses`);
    }
    await ctx.db.query(`ANALYZE ${schema}.products, ${schema}.pairs, ${schema}.licenses`);
    const loadSeconds = round((performance.now() - started) / 1000, 1);

    const secondary = () => {
      const pair = 1 + Math.floor(Math.random() * (products / 2));
      return (2 * pair).toString(16).toUpperCase().padStart(12, '0');
    };
    const get = async (samples: number[]) => {
      const result = await httpRequest('GET', `${agent.url}/products/${secondary()}/effective-licenses`);
      if (result.status !== 200) throw new Error(`effective-licenses → ${result.status}: ${result.body}`);
      samples.push(result.ms);
    };
    const warmup: number[] = [];
    for (let i = 0; i < 100; i++) await get(warmup);
    const sequential: number[] = [];
    for (let i = 0; i < ctx.config.queryRequests; i++) await get(sequential);
    const concurrent: number[] = [];
    const concurrentStart = performance.now();
    await inParallel(ctx.config.queryRequests, 16, () => get(concurrent));
    const concurrentSeconds = (performance.now() - concurrentStart) / 1000;
    const result: QueryResult = {
      licenses,
      products,
      loadSeconds,
      latencyMs: summarize(sequential),
      concurrentRequestsPerSec: Math.round(ctx.config.queryRequests / concurrentSeconds),
      concurrentLatencyMs: summarize(concurrent),
    };
    ctx.log(
      `query: ${licenses} licenses; one client p50 ${result.latencyMs.p50} ms p99 ${result.latencyMs.p99} ms; ` +
        `16 clients ${compact(result.concurrentRequestsPerSec)} req/s p99 ${result.concurrentLatencyMs.p99} ms`,
    );
    return result;
  } finally {
    await agent.process.stop();
  }
}
