/**
 * Measurement 3, ours: the real sync agent (dist/apps/sync-agent) started cold on the backlog with a fresh
 * schema; timed until its two durables have nothing pending or unacked. Its relay keeps publishing the
 * EffectiveLicensesChanged it wrote to the outbox after that, so the time until the outbox is drained is
 * reported beside it. Optionally profiled (`node --cpu-prof` plus a pg_stat_activity sampler).
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { Backlog } from './backlog.js';
import { REPO_ROOT, RUN_ID, namespaceFor } from './support/config.js';
import type { BenchContext } from './support/context.js';
import { timeConsumer, type ConsumerRunResult } from './support/consumer-run.js';
import { deleteConsumers, streamMessageCount, syncAgentDurables } from './support/infra.js';
import { startService } from './support/processes.js';
import { BENCH_OPERATOR_KEY } from './support/http.js';
import {
  PostgresActivitySampler,
  summarizeCpuProfile,
  type CpuProfileSummary,
  type StatementProfile,
} from './support/profile.js';
import { round, sleep } from './support/stats.js';

export interface SyncAgentRun extends ConsumerRunResult {
  /** EffectiveLicensesChanged the agent wrote to its outbox, and how long its relay took to publish the rest. */
  readonly outboxEvents: number;
  readonly outboxDrainedAfterSeconds: number | null;
  /** ha_license_sync_consumer_events_total by outcome, from the agent's /metrics. */
  readonly outcomes: Record<string, number>;
  readonly cpuProfile?: CpuProfileSummary;
  readonly postgresProfile?: StatementProfile;
}

export interface SyncAgentRunOptions {
  readonly label: string;
  /** Schema part: the agent works in `bench_<run>_<part>`. */
  readonly schemaPart: string;
  readonly rssMarks?: readonly number[];
  readonly profile?: boolean;
  readonly maxSeconds: number;
  /** Continue an earlier run in `schemaPart` where it stopped (its durables and schema as they are). */
  readonly resume?: boolean;
}

/**
 * Starts a cold sync agent over the whole backlog (its durables deleted first, so it reads from the start),
 * or with `resume` a sync agent that carries on where an earlier one in the same schema stopped.
 */
export async function runSyncAgentOnBacklog(
  ctx: BenchContext,
  backlog: Backlog,
  options: SyncAgentRunOptions,
): Promise<SyncAgentRun> {
  const refs = syncAgentDurables(backlog.names);
  const outboxStream = backlog.names.stream('sync-agent');
  if (!options.resume) {
    await deleteConsumers(ctx.jsm, refs);
    await ctx.jsm.streams.purge(outboxStream);
  }
  const profileDir = join(REPO_ROOT, 'bench', 'profiles', `${RUN_ID}-${options.schemaPart}`);
  if (options.profile) mkdirSync(profileDir, { recursive: true });
  const schema = namespaceFor(options.schemaPart);
  const agent = await startService('sync-agent', {
    namespace: backlog.names.namespace,
    schema,
    noWait: true,
    nodeArgs: options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const sampler = options.profile ? new PostgresActivitySampler('ha-license-sync') : undefined;
  await sampler?.start();
  try {
    const run = await timeConsumer({
      label: options.label,
      process: agent.process,
      refs,
      total: backlog.total(),
      jsm: ctx.jsm,
      db: ctx.db,
      applicationName: 'ha-license-sync',
      maxSeconds: options.maxSeconds,
      rssMarks: options.rssMarks,
      log: ctx.log,
    });
    const postgresProfile = await sampler?.stop();
    const consumedAt = performance.now();
    const outboxEvents = await countOutbox(ctx.db, schema);
    let outboxDrainedAfterSeconds: number | null = null;
    const deadline = consumedAt + 300_000;
    while (performance.now() < deadline) {
      if ((await streamMessageCount(ctx.jsm, outboxStream)) >= outboxEvents) {
        outboxDrainedAfterSeconds = round((performance.now() - consumedAt) / 1000, 2);
        break;
      }
      await sleep(100);
    }
    const outcomes = await consumedOutcomes(agent.url);
    await agent.process.stop(60_000);
    const profiles = options.profile ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
    const cpuProfile = profiles[0] ? summarizeCpuProfile(join(profileDir, profiles[0])) : undefined;
    ctx.log(
      `${options.label}: outbox of ${outboxEvents} EffectiveLicensesChanged drained ${outboxDrainedAfterSeconds ?? '(not within 300)'} s after consumption; outcomes ${JSON.stringify(outcomes)}`,
    );
    return { ...run, outboxEvents, outboxDrainedAfterSeconds, outcomes, cpuProfile, postgresProfile };
  } finally {
    if (sampler) await sampler.stop().catch(() => undefined);
    await agent.process.stop();
  }
}

async function countOutbox(db: pg.Client, schema: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.events`);
  return Number(rows[0]!.n);
}

/** ha_license_sync_consumer_events_total{outcome} from a service's Prometheus metrics. */
async function consumedOutcomes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_OPERATOR_KEY}` } })).text();
  const outcomes: Record<string, number> = {};
  for (const match of text.matchAll(/^ha_license_sync_consumer_events_total\{([^}]*)\} (\S+)$/gm)) {
    const outcome = /outcome="([^"]+)"/.exec(match[1]!)?.[1];
    if (outcome) outcomes[outcome] = Number(match[2]);
  }
  return outcomes;
}

export function measureOurs(ctx: BenchContext, backlog: Backlog): Promise<SyncAgentRun> {
  return runSyncAgentOnBacklog(ctx, backlog, {
    label: 'ours',
    schemaPart: 'ours',
    maxSeconds: ctx.config.oursMaxSeconds,
    rssMarks: [ctx.config.memoryMarks[0]],
  });
}

/**
 * Where ours spends its time: a sync agent under `node --cpu-prof` and a pg_stat_activity sampler for
 * `profileMaxSeconds`. If ours stopped at its time cap, the profiled agent carries on from there, so the
 * profile shows the state that bounded ours (a bigger projection makes each batch dearer); otherwise it
 * runs cold over the backlog.
 */
export function profileOurs(ctx: BenchContext, backlog: Backlog, ours: SyncAgentRun | undefined): Promise<SyncAgentRun> {
  const resume = ours?.capped === true;
  return runSyncAgentOnBacklog(ctx, backlog, {
    label: resume ? 'ours (profiled, continuing)' : 'ours (profiled)',
    schemaPart: resume ? 'ours' : 'prof',
    profile: true,
    resume,
    maxSeconds: ctx.config.profileMaxSeconds,
  });
}
