/**
 * The relay: `relayEvents` EntitlementChanged rows appended straight into a running licensing service's
 * events table (one SQL transaction), timed from its commit until the LICENSING stream holds them all.
 * The licensing service's process (whose relay does the work) and its backends are measured as for the
 * consumers. The namespace is the relay's own, so its stream starts empty.
 */
import pg from 'pg';
import { notifyChannelOf } from '#shared';
import { busNames } from '#shared/contracts';
import { PG, namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { ensureSourceStreams, streamMessageCount } from './support/infra.js';
import { PostgresBackendsCpu, cpuMsOf, peakRssMbOf } from './support/probe.js';
import { startService } from './support/processes.js';
import { compact, round, sleep } from './support/stats.js';

export interface RelayResult {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly cpuMsPerEvent: number;
  readonly postgresCpuMsPerEvent: number;
  readonly peakRssMb: number;
}

export async function measureRelay(ctx: BenchContext): Promise<RelayResult> {
  const namespace = namespaceFor('relay');
  const names = busNames(namespace);
  await ensureSourceStreams(ctx.jsm, names);
  const licensing = await startService('licensing', { namespace, schema: namespace });
  let inTransaction = false;
  try {
    const n = ctx.config.relayEvents;
    const table = `${pg.escapeIdentifier(namespace)}.events`;
    const now = new Date().toISOString();
    const expires = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const backends = new PostgresBackendsCpu(ctx.db, PG.database, 'ha-license-sync');
    await ctx.db.query('BEGIN');
    inTransaction = true;
    for (let from = 1; from <= n; from += 50_000) {
      await ctx.db.query(
        `INSERT INTO ${table} (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
         SELECT id, 'license-' || id, 1, 'EntitlementChanged', 1,
           jsonb_build_object('change', 'granted', 'changedAt', $3::text, 'license', jsonb_build_object(
             'licenseId', id, 'serial', upper(lpad(to_hex(g % 5000), 12, '0')), 'sku', 'GATEWAY_AV', 'trial', false,
             'expiresAt', $4::text, 'status', 'active', 'grantedAt', $3::text, 'revokedAt', null)),
           jsonb_build_object('correlationId', id::text, 'causationId', null), $3::timestamptz
         FROM (SELECT gen_random_uuid() AS id, g FROM generate_series($1::int, $2::int) AS g) AS s`,
        [from, Math.min(n, from + 49_999), now, expires],
      );
    }
    await backends.start();
    const cpuStart = cpuMsOf(licensing.process.pid) ?? 0;
    await ctx.db.query('COMMIT');
    inTransaction = false;
    // Woken as another process's commit wakes it (the event store's NOTIFY after its commit), not by its poll.
    await ctx.db.query(`SELECT pg_notify($1, '')`, [notifyChannelOf(namespace)]);
    const started = performance.now();
    const stream = names.stream('licensing');
    let published = 0;
    let lastLog = started;
    while (published < n) {
      await sleep(50);
      published = await streamMessageCount(ctx.jsm, stream);
      await backends.sample();
      if (performance.now() - lastLog > 2_000) {
        lastLog = performance.now();
        ctx.log(`relay: ${published}/${n} published`);
      }
      if (performance.now() - started > 600_000) throw new Error(`relay published ${published} of ${n} in 600 s`);
    }
    const seconds = (performance.now() - started) / 1000;
    const cpuEnd = cpuMsOf(licensing.process.pid) ?? cpuStart;
    const result: RelayResult = {
      events: n,
      seconds: round(seconds, 2),
      eventsPerSec: Math.round(n / seconds),
      cpuMsPerEvent: round((cpuEnd - cpuStart) / n, 4),
      postgresCpuMsPerEvent: round(backends.usedMs() / n, 4),
      peakRssMb: round(peakRssMbOf(licensing.process.pid) ?? Number.NaN, 1),
    };
    ctx.log(`relay: ${n} events published in ${result.seconds} s = ${compact(result.eventsPerSec)} ev/s`);
    return result;
  } finally {
    if (inTransaction) await ctx.db.query('ROLLBACK').catch(() => undefined);
    await licensing.process.stop();
  }
}
