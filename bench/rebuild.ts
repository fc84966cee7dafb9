/**
 * Rebuild and memory: the backlog grown to `rebuildEvents`, then the real rebuild (`npm run rebuild`, its
 * compiled entry point) rebuilds the whole projection from the first message of both streams into new tables
 * and switches over. It runs against a freshly migrated sync-agent schema with no live agent, so every row it
 * builds counts as caught up in its comparison. Its rate is events over the time from its first delivery until
 * its consumers have nothing pending; its RSS is sampled at the two memory marks (100 k and 1 M at full scale),
 * or at the first mark and where it stopped if it hit its time cap first.
 */
import { join } from 'node:path';
import { createDataSource, ensureDatabaseAndSchema, type PostgresSettings } from '#shared';
import { REBUILD_DURABLE, SYNC_AGENT_MIGRATIONS } from '../apps/sync-agent/src/index.js';
import { growBacklog, type Backlog } from './backlog.js';
import { PG, REPO_ROOT, namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { timeConsumer, type ConsumerRunResult } from './support/consumer-run.js';
import { BenchProcess, freePort, serviceEnv } from './support/processes.js';
import { sleep } from './support/stats.js';

export interface RssSample {
  readonly events: number;
  readonly rssMb: number;
}

export interface RebuildResult extends ConsumerRunResult {
  /** RSS at the first mark and at the second (or at the end of a capped run); growth = to / from. */
  readonly memory: {
    readonly from: RssSample;
    readonly to: RssSample;
    readonly growth: number;
    readonly complete: boolean;
  } | null;
  /** Whether the rebuild compared its tables and switched over (exit status 0). */
  readonly switchedOver: boolean;
}

export async function measureRebuild(ctx: BenchContext, backlog: Backlog): Promise<RebuildResult> {
  const missing = ctx.config.rebuildEvents - backlog.total();
  if (missing > 0) {
    ctx.log(`rebuild: growing the backlog by ${missing} events to ${ctx.config.rebuildEvents}`);
    await growBacklog(ctx.js, backlog, missing, ctx.log);
  }
  const schema = namespaceFor('rebuild');
  await migrateSyncAgentSchema({ ...PG, schema });
  const rebuild = BenchProcess.start(
    'rebuild',
    join(REPO_ROOT, 'dist', 'apps', 'sync-agent', 'src', 'rebuild', 'main.js'),
    serviceEnv('sync-agent', await freePort(), schema, backlog.names.namespace),
    ['--enable-source-maps'],
  );
  try {
    const run = await timeConsumer({
      label: 'rebuild',
      process: rebuild,
      refs: (['pairing', 'licensing'] as const).map((source) => ({
        stream: backlog.names.stream(source),
        durable: REBUILD_DURABLE,
      })),
      total: backlog.total(),
      jsm: ctx.jsm,
      db: ctx.db,
      applicationName: 'ha-license-sync',
      maxSeconds: ctx.config.rebuildMaxSeconds,
      rssMarks: ctx.config.memoryMarks,
      log: ctx.log,
    });
    const exit = run.capped ? null : await Promise.race([rebuild.exited, sleep(300_000).then(() => null)]);
    const switchedOver = exit?.code === 0;
    if (!run.capped) ctx.log(`rebuild: ${switchedOver ? 'compared and switched over' : `did not switch over:\n${rebuild.log}`}`);
    const [from, second] = run.rssAt;
    const to = second ?? (from && run.events > from.events ? { events: run.events, rssMb: run.rssAtEndMb } : undefined);
    const memory =
      from && to ? { from, to, growth: Math.round((to.rssMb / from.rssMb) * 1000) / 1000, complete: !!second } : null;
    ctx.log(
      `rebuild: RSS ${memory ? `${memory.from.rssMb} MB at ${memory.from.events}, ${memory.to.rssMb} MB at ${memory.to.events}` : 'not sampled'}`,
    );
    return { ...run, memory, switchedOver };
  } finally {
    await rebuild.stop();
  }
}

/** A sync-agent schema as the agent's first start leaves it: the rebuild refuses a schema without its tables. */
async function migrateSyncAgentSchema(settings: PostgresSettings): Promise<void> {
  await ensureDatabaseAndSchema(settings);
  const dataSource = createDataSource(settings, SYNC_AGENT_MIGRATIONS);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}
