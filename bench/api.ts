/**
 * The licensing API's write throughput: `apiConcurrency` clients each POSTing grants back to back (closed
 * loop) for `apiSeconds`; requests/s and latency. The same runs give propagation "at as many grants/s as
 * the API sustains". Repeated `propagationRepeats` times; the run with the median throughput is reported.
 */
import { GrantRecorder, describeRun, type PropagationResult, type PropagationRun } from './propagation.js';
import type { BenchContext } from './support/context.js';
import { resetConnections } from './support/http.js';
import type { PropagationWatcher, RunningSystem } from './support/system.js';
import { medianBy, sleep } from './support/stats.js';
import { PostgresActivitySampler, type StatementProfile } from './support/profile.js';

export interface ApiResult {
  readonly concurrency: number;
  readonly writesPerSec: number;
  readonly median: PropagationRun;
  readonly runs: PropagationRun[];
  /** Propagation at the sustained rate (the same runs, median by p99). */
  readonly propagation: PropagationResult;
  /** What the services' PostgreSQL backends were doing during the first run (pg_stat_activity samples). */
  readonly postgresProfile: StatementProfile;
  /** Database work per grant in the median run (pg_stat_database of the bench database, WAL fsyncs server-wide). */
  readonly databasePerGrant: DatabaseCounters;
}

/** Per grant: commits and rows written in the benchmark database, and WAL fsyncs of the whole server. */
export interface DatabaseCounters {
  readonly commits: number;
  readonly rollbacks: number;
  readonly rowsInserted: number;
  readonly rowsUpdated: number;
  readonly walSyncs: number;
}

async function databaseCounters(ctx: BenchContext): Promise<DatabaseCounters> {
  const { rows } = await ctx.db.query<Record<keyof DatabaseCounters, string>>(
    `SELECT d.xact_commit AS "commits", d.xact_rollback AS "rollbacks", d.tup_inserted AS "rowsInserted",
            d.tup_updated AS "rowsUpdated", (SELECT wal_sync FROM pg_stat_wal) AS "walSyncs"
       FROM pg_stat_database d WHERE d.datname = current_database()`,
  );
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)])) as unknown as DatabaseCounters;
}

/** An idle backend publishes its pending counters within 10 s (PostgreSQL 15's PGSTAT_IDLE_INTERVAL). */
const STATS_FLUSH_MS = 11_000;

async function closedLoop(
  ctx: BenchContext,
  system: RunningSystem,
  watcher: PropagationWatcher,
): Promise<PropagationRun & { databasePerGrant: DatabaseCounters }> {
  resetConnections();
  await sleep(STATS_FLUSH_MS);
  const before = await databaseCounters(ctx);
  const recorder = await GrantRecorder.start(watcher, system);
  const meter = system.cpuMeter();
  await meter.begin();
  const sampler = setInterval(() => void meter.sample(), 1_000);
  const started = performance.now();
  const until = started + ctx.config.apiSeconds * 1000;
  await Promise.all(
    Array.from({ length: ctx.config.apiConcurrency }, async () => {
      while (performance.now() < until) await recorder.grant();
    }),
  );
  clearInterval(sampler);
  const took = (performance.now() - started) / 1000;
  const run = await recorder.finish('max', took, 0, () => meter.end(Math.max(1, recorder.apiMs.length)));
  await sleep(STATS_FLUSH_MS);
  const after = await databaseCounters(ctx);
  const per = Math.max(1, run.grants);
  const databasePerGrant = Object.fromEntries(
    Object.keys(after).map((k) => [
      k,
      Math.round((1000 * (after[k as keyof DatabaseCounters] - before[k as keyof DatabaseCounters])) / per) / 1000,
    ]),
  ) as unknown as DatabaseCounters;
  return { ...run, databasePerGrant };
}

export async function measureApi(ctx: BenchContext, system: RunningSystem, watcher: PropagationWatcher): Promise<ApiResult> {
  const runs: (PropagationRun & { databasePerGrant: DatabaseCounters })[] = [];
  let postgresProfile: StatementProfile | undefined;
  for (let i = 0; i < ctx.config.propagationRepeats; i++) {
    const sampler = i === 0 ? new PostgresActivitySampler('ha-license-sync', 20) : undefined;
    await sampler?.start();
    const run = await closedLoop(ctx, system, watcher);
    postgresProfile ??= await sampler?.stop();
    runs.push(run);
    ctx.log(
      `api (${ctx.config.apiConcurrency} clients) run ${i + 1}: ${describeRun(run)}; per grant: CPU ms ` +
        Object.entries(run.cpuMsPerGrant)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') +
        '; ' +
        Object.entries(run.databasePerGrant)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
    );
    await sleep(1_000);
  }
  const median = medianBy(runs, (r) => r.achievedPerSec)!;
  return {
    concurrency: ctx.config.apiConcurrency,
    writesPerSec: median.achievedPerSec,
    median,
    runs,
    propagation: { offeredPerSec: 'max', median: medianBy(runs, (r) => r.latencyMs.p99)!, runs },
    postgresProfile: postgresProfile!,
    databasePerGrant: median.databasePerGrant,
  };
}
