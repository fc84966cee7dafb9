/**
 * What the running system costs with no traffic: every service process, their PostgreSQL backends and nats-server
 * over `idleSeconds` with nothing offered (poll loops, timers, heartbeats). Reported as a percentage of one core.
 */
import type { BenchContext } from './support/context.js';
import { LOAD_GENERATOR } from './support/probe.js';
import type { RunningSystem } from './support/system.js';
import { round, sleep } from './support/stats.js';
import { streamMessageCount } from './support/infra.js';

/** The system counts as settled once no stream of its namespace has grown for this long. */
const SETTLED_AFTER_MS = 3_000;

export interface IdleResult {
  readonly seconds: number;
  /** CPU of the system (load generator excluded) as a percentage of one core. */
  readonly cpuPercent: number;
  /** The same, by process, in CPU ms over the whole window. */
  readonly cpuMsByProcess: Record<string, number>;
}

/** Sums per-process CPU, leaving out the benchmark's own process. */
export function systemCpuMs(byProcess: Record<string, number>): number {
  return round(
    Object.entries(byProcess)
      .filter(([label]) => label !== LOAD_GENERATOR)
      .reduce((sum, [, ms]) => sum + ms, 0),
    3,
  );
}

/**
 * Waits until the work the set-up started has ended: the sync agent has applied everything (checked before this
 * is called), and its relay has published what that produced, i.e. no stream has grown for SETTLED_AFTER_MS.
 */
async function settle(ctx: BenchContext, system: RunningSystem): Promise<void> {
  const streams = (['pairing', 'licensing', 'sync-agent'] as const).map((source) => system.names.stream(source));
  const counts = async () => (await Promise.all(streams.map((s) => streamMessageCount(ctx.jsm, s)))).join(',');
  let last = await counts();
  let since = performance.now();
  while (performance.now() - since < SETTLED_AFTER_MS) {
    await sleep(250);
    const now = await counts();
    if (now !== last) [last, since] = [now, performance.now()];
  }
}

export async function measureIdle(ctx: BenchContext, system: RunningSystem): Promise<IdleResult> {
  await settle(ctx, system);
  const seconds = ctx.config.idleSeconds;
  const meter = system.cpuMeter();
  await meter.begin();
  const started = performance.now();
  for (let s = 0; s < seconds; s++) {
    await sleep(1_000);
    await meter.sample();
  }
  const elapsedMs = performance.now() - started;
  const cpuMsByProcess = await meter.end();
  const cpuPercent = round((100 * systemCpuMs(cpuMsByProcess)) / elapsedMs, 2);
  ctx.log(
    `idle for ${seconds} s: ${cpuPercent} % of one core (${Object.entries(cpuMsByProcess)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ')})`,
  );
  return { seconds, cpuPercent, cpuMsByProcess };
}
