/**
 * Rebuild and memory: the backlog grown to `rebuildEvents`, then a cold sync agent (new schema, its durables
 * deleted so they start from the first message) rebuilds the whole projection. Its rate is ours on a cold
 * start over the bigger backlog; its RSS is sampled at the two memory marks (100 k and 1 M at full scale),
 * or at the first mark and where the run stopped if it hit its time cap first.
 */
import { growBacklog, type Backlog } from './backlog.js';
import type { BenchContext } from './support/context.js';
import { runSyncAgentOnBacklog, type SyncAgentRun } from './ours.js';

export interface RssSample {
  readonly events: number;
  readonly rssMb: number;
}

export interface RebuildResult extends SyncAgentRun {
  /** RSS at the first mark and at the second (or at the end of a capped run); growth = to / from. */
  readonly memory: {
    readonly from: RssSample;
    readonly to: RssSample;
    readonly growth: number;
    readonly complete: boolean;
  } | null;
}

export async function measureRebuild(ctx: BenchContext, backlog: Backlog): Promise<RebuildResult> {
  const missing = ctx.config.rebuildEvents - backlog.total();
  if (missing > 0) {
    ctx.log(`rebuild: growing the backlog by ${missing} events to ${ctx.config.rebuildEvents}`);
    await growBacklog(ctx.js, backlog, missing, ctx.log);
  }
  const run = await runSyncAgentOnBacklog(ctx, backlog, {
    label: 'rebuild',
    schemaPart: 'rebuild',
    rssMarks: ctx.config.memoryMarks,
    maxSeconds: ctx.config.rebuildMaxSeconds,
  });
  const [from, second] = run.rssAt;
  const to = second ?? (from && run.events > from.events ? { events: run.events, rssMb: run.rssAtEndMb } : undefined);
  const memory = from && to ? { from, to, growth: Math.round((to.rssMb / from.rssMb) * 1000) / 1000, complete: !!second } : null;
  ctx.log(
    `rebuild: RSS ${memory ? `${memory.from.rssMb} MB at ${memory.from.events}, ${memory.to.rssMb} MB at ${memory.to.events}` : 'not sampled'}`,
  );
  return { ...run, memory };
}
