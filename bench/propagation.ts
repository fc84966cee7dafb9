/**
 * Propagation latency end to end: grants POSTed to the licensing API at a fixed offered rate (open loop:
 * a request is issued when it is due, whether or not earlier ones have answered; at most 512 in flight,
 * beyond that a due request is counted as not issued), each timed from its 201 to the sync agent's
 * EffectiveLicensesChanged showing the license in the Secondary's set. Each rate runs
 * `propagationRepeats` times; the run with the median p99 is reported, all runs are kept.
 */
import type { BenchContext } from './support/context.js';
import { resetConnections } from './support/http.js';
import {
  grantOnRandomPrimary,
  projectorTotals,
  type ProjectorTotals,
  type PropagationWatcher,
  type RunningSystem,
} from './support/system.js';
import { medianBy, round, sleep, summarize, type LatencySummary } from './support/stats.js';

export interface PropagationRun {
  readonly offeredPerSec: number | 'max';
  readonly achievedPerSec: number;
  readonly grants: number;
  /** Due requests not issued because 512 were already in flight (the API could not keep up). */
  readonly notIssued: number;
  /** Responses other than 201, by status. */
  readonly failures: Record<string, number>;
  /** Grants whose license never showed in the Secondary's set within 15 s. */
  readonly lost: number;
  /** Licenses behind each Secondary's EffectiveLicensesChanged of the run (its entries' sources: each carries the whole set). */
  readonly licensesPerSet: { readonly mean: number; readonly max: number };
  readonly latencyMs: LatencySummary;
  /** The same split: 201 → EntitlementChanged on the bus (licensing relay), then → EffectiveLicensesChanged. */
  readonly relayHopMs: LatencySummary;
  readonly projectionHopMs: LatencySummary;
  /** Events that reached this process before the 201 did (counted as 0 ms). */
  readonly beforeResponse: number;
  /** The API's own latency in the run. */
  readonly apiLatencyMs: LatencySummary;
  /** CPU ms per successful grant, by process. */
  readonly cpuMsPerGrant: Record<string, number>;
  /**
   * The sync agent's projector batches committed during the run (its metrics): how many, their events on average, and
   * how long each took on average (its transaction). Under load a batch is what arrived during the one before.
   */
  readonly projector: { readonly batches: number; readonly eventsPerBatch: number; readonly msPerBatch: number };
}

export interface PropagationResult {
  readonly offeredPerSec: number | 'max';
  readonly median: PropagationRun;
  readonly runs: PropagationRun[];
}

const MAX_IN_FLIGHT = 512;

/** Collects what one run's grants did. */
export class GrantRecorder {
  readonly apiMs: number[] = [];
  readonly failures: Record<string, number> = {};
  private readonly beforeResponseAtStart: number;

  private constructor(
    private readonly watcher: PropagationWatcher,
    private readonly system: RunningSystem,
    private readonly projectorAtStart: ProjectorTotals,
  ) {
    this.beforeResponseAtStart = watcher.beforeResponse;
  }

  /** A recorder for a run about to start on `system`. */
  static async start(watcher: PropagationWatcher, system: RunningSystem): Promise<GrantRecorder> {
    return new GrantRecorder(watcher, system, await projectorTotals(system));
  }

  /** Issues one grant and records its outcome. */
  async grant(): Promise<void> {
    const result = await grantOnRandomPrimary(this.system).catch((error: Error) => ({
      ok: false as const,
      status: error.message,
    }));
    if (result.ok) {
      this.apiMs.push(result.ms);
      this.watcher.expect(result.licenseId, result.at);
    } else {
      this.failures[result.status] = (this.failures[result.status] ?? 0) + 1;
    }
  }

  /** Waits for the last propagations and sums the run up. */
  async finish(
    offeredPerSec: number | 'max',
    seconds: number,
    notIssued: number,
    cpu: () => Promise<Record<string, number>>,
  ): Promise<PropagationRun> {
    const { samples, lost, licensesPerSet } = await this.watcher.take();
    const split = samples.filter((x) => !Number.isNaN(x.relayMs));
    const projector = await projectorTotals(this.system);
    const batches = projector.batches - this.projectorAtStart.batches;
    return {
      offeredPerSec,
      achievedPerSec: Math.round(this.apiMs.length / seconds),
      grants: this.apiMs.length,
      notIssued,
      failures: this.failures,
      lost,
      licensesPerSet,
      latencyMs: summarize(samples.map((x) => x.totalMs)),
      relayHopMs: summarize(split.map((x) => x.relayMs)),
      projectionHopMs: summarize(split.map((x) => x.projectionMs)),
      beforeResponse: this.watcher.beforeResponse - this.beforeResponseAtStart,
      apiLatencyMs: summarize(this.apiMs),
      cpuMsPerGrant: await cpu(),
      projector: {
        batches,
        eventsPerBatch: batches === 0 ? 0 : round((projector.events - this.projectorAtStart.events) / batches, 1),
        msPerBatch: batches === 0 ? 0 : round((1000 * (projector.seconds - this.projectorAtStart.seconds)) / batches, 2),
      },
    };
  }
}

/** One open-loop run at `rate` grants/s for `seconds`. */
async function runAtRate(
  system: RunningSystem,
  watcher: PropagationWatcher,
  rate: number,
  seconds: number,
): Promise<PropagationRun> {
  resetConnections();
  const recorder = await GrantRecorder.start(watcher, system);
  const meter = system.cpuMeter();
  await meter.begin();
  let due = 0;
  let notIssued = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  let lastSample = started;
  for (;;) {
    const now = performance.now();
    if (now - started >= seconds * 1000) break;
    const dueNow = Math.floor(((now - started) * rate) / 1000);
    for (; due < dueNow; due++) {
      if (inFlight.size >= MAX_IN_FLIGHT) {
        notIssued++;
        continue;
      }
      const request = recorder.grant();
      inFlight.add(request);
      void request.finally(() => inFlight.delete(request));
    }
    if (now - lastSample > 1_000) {
      lastSample = now;
      void meter.sample();
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const took = (performance.now() - started) / 1000;
  return recorder.finish(rate, took, notIssued, () => meter.end(Math.max(1, recorder.apiMs.length)));
}

export function describeRun(run: PropagationRun): string {
  const failed = Object.entries(run.failures).map(([status, n]) => `${n}× ${status}`);
  return (
    `${run.achievedPerSec}/s achieved (${run.grants} grants${run.notIssued ? `, ${run.notIssued} not issued` : ''}` +
    `${failed.length ? `, failed ${failed.join(', ')}` : ''}); propagation p50 ${run.latencyMs.p50} p90 ${run.latencyMs.p90} ` +
    `p99 ${run.latencyMs.p99} max ${run.latencyMs.max} ms${run.lost ? `, ${run.lost} lost` : ''} (relay p50 ${run.relayHopMs.p50} ` +
    `p99 ${run.relayHopMs.p99}, then projection p50 ${run.projectionHopMs.p50} p99 ${run.projectionHopMs.p99}); API p50 ${run.apiLatencyMs.p50} ` +
    `p99 ${run.apiLatencyMs.p99} ms; licenses behind each Secondary set mean ${run.licensesPerSet.mean} max ${run.licensesPerSet.max}; ` +
    `sync agent ${run.projector.batches} batches of ${run.projector.eventsPerBatch} events, ${run.projector.msPerBatch} ms each`
  );
}

export async function measurePropagation(
  ctx: BenchContext,
  system: RunningSystem,
  watcher: PropagationWatcher,
  rate: number,
): Promise<PropagationResult> {
  const runs: PropagationRun[] = [];
  for (let i = 0; i < ctx.config.propagationRepeats; i++) {
    const run = await runAtRate(system, watcher, rate, ctx.config.propagationSeconds);
    runs.push(run);
    ctx.log(`propagation @${rate}/s run ${i + 1}: ${describeRun(run)}`);
    await sleep(1_000);
  }
  return { offeredPerSec: rate, median: medianBy(runs, (r) => r.latencyMs.p99)!, runs };
}
