/**
 * What the running system costs with no traffic: every service process, their PostgreSQL backends and nats-server
 * over `idleSeconds` with nothing offered (poll loops, timers, heartbeats). Reported as a percentage of one core.
 */
import type { BenchContext } from './support/context.js';
import { LOAD_GENERATOR } from './support/probe.js';
import type { RunningSystem } from './support/system.js';
import { round, sleep } from './support/stats.js';

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

export async function measureIdle(ctx: BenchContext, system: RunningSystem): Promise<IdleResult> {
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
