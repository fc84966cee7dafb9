/**
 * Times one consumer process (raw, naive or the sync agent) draining a backlog, from the outside and the
 * same way for all three: JetStream's consumer info says how much is processed (neither pending nor
 * awaiting an ack), /proc says how much CPU the process and its PostgreSQL backends used and how much
 * memory it holds. The clock starts when the first message is delivered, so start-up is not counted.
 */
import type pg from 'pg';
import type { JetStreamManager } from '@nats-io/jetstream';
import { consumerProgress, type ConsumerProgress, type ConsumerRef } from './infra.js';
import { PG } from './config.js';
import { PostgresBackendsCpu, cpuMsOf, cpuSplitMsOf, natsServerPid, peakRssMbOf, rssMbOf } from './probe.js';
import type { BenchProcess } from './processes.js';
import { compact, round, sleep } from './stats.js';

export interface ConsumerRunSpec {
  readonly label: string;
  readonly process: BenchProcess;
  readonly refs: readonly ConsumerRef[];
  /** Messages the consumers read in all (the backlog). */
  readonly total: number;
  readonly jsm: JetStreamManager;
  /** A client of the benchmark database, to find the process's backends. */
  readonly db: pg.Client;
  /** The application_name of the process's PostgreSQL connections. */
  readonly applicationName: string;
  /** Give up waiting at this point and rate what was processed. */
  readonly maxSeconds: number;
  /** Record the process's RSS (highest over the last 10 % of events) when this many events are processed. */
  readonly rssMarks?: readonly number[];
  readonly log: (line: string) => void;
}

export interface ConsumerRunResult {
  readonly label: string;
  /** Events processed in the timed interval (the whole backlog unless `capped`). */
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  /** CPU of the process itself per event (user + system). */
  readonly cpuMsPerEvent: number;
  /** Share of the process's CPU spent in the kernel (system time): syscalls, mostly socket writes and reads. */
  readonly kernelCpuPercent: number;
  /** CPU of its PostgreSQL backends per event. */
  readonly postgresCpuMsPerEvent: number;
  /** CPU of the whole nats-server per event (shared with anything else on this NATS). */
  readonly natsCpuMsPerEvent: number | null;
  /** Peak RSS (VmHWM) of the process over its life. */
  readonly peakRssMb: number;
  readonly rssAt: { readonly events: number; readonly rssMb: number }[];
  /** RSS when the run ended (highest over its last 10 % of events). */
  readonly rssAtEndMb: number;
  readonly redelivered: number;
  /** True when the run stopped at `maxSeconds` before the backlog was drained. */
  readonly capped: boolean;
}

export async function timeConsumer(spec: ConsumerRunSpec): Promise<ConsumerRunResult> {
  const { process: child, jsm, refs, total, log, label } = spec;
  const marks = [...(spec.rssMarks ?? [])].sort((a, b) => a - b);
  const rssAt: { events: number; rssMb: number }[] = [];
  const backends = new PostgresBackendsCpu(spec.db, PG.database, spec.applicationName);
  const nats = natsServerPid();

  // Wait for the first delivery (the process may still be starting, creating its consumers). A consumer that
  // already made progress (a run resumed where another stopped) counts from where it is now.
  const initial = await consumerProgress(jsm, refs, total);
  const base = initial.exists ? initial.processed : 0;
  if (base > 0) log(`${label}: the consumers had processed ${base} events already; counting from there`);
  const startDeadline = Date.now() + 120_000;
  for (;;) {
    if (child.hasExited) throw new Error(`${label} exited before consuming:\n${child.log}`);
    const progress = await consumerProgress(jsm, refs, total);
    if (progress.exists && progress.delivered > initial.delivered) break;
    if (Date.now() > startDeadline) throw new Error(`${label} consumed nothing within 120 s:\n${child.log}`);
    await sleep(20);
  }
  const started = performance.now();
  const cpuStart = cpuMsOf(child.pid) ?? 0;
  const splitStart = cpuSplitMsOf(child.pid);
  const natsStart = nats === undefined ? undefined : cpuMsOf(nats);
  await backends.start();

  let progress: ConsumerProgress;
  let lastLog = started;
  let lastLogged = base;
  // RSS moves with the garbage collector; a mark takes the highest RSS over the last 10 % of events before it.
  const rssSamples: { events: number; rssMb: number }[] = [];
  const workingRss = (upTo: number) =>
    round(Math.max(...rssSamples.filter((x) => x.events >= upTo * 0.9 && x.events <= upTo).map((x) => x.rssMb)), 1);
  let capped = false;
  let cpuEnd = cpuStart;
  for (;;) {
    await sleep(200);
    if (child.hasExited) throw new Error(`${label} exited while consuming:\n${child.log}`);
    progress = await consumerProgress(jsm, refs, total);
    cpuEnd = cpuMsOf(child.pid) ?? cpuEnd;
    await backends.sample();
    const { processed } = progress;
    const rss = rssMbOf(child.pid);
    if (rss !== undefined) rssSamples.push({ events: processed, rssMb: rss });
    while (marks.length > 0 && processed >= marks[0]!) {
      const mark = marks.shift()!;
      rssAt.push({ events: mark, rssMb: workingRss(processed) });
    }
    const now = performance.now();
    if (processed >= total) break;
    if ((now - started) / 1000 >= spec.maxSeconds) {
      capped = true;
      break;
    }
    if (now - lastLog >= 2_000) {
      const rate = Math.max(0, ((processed - lastLogged) * 1000) / (now - lastLog));
      log(`${label}: ${processed}/${total} events, ${compact(rate)} ev/s`);
      lastLog = now;
      lastLogged = processed;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const natsEnd = nats === undefined ? undefined : cpuMsOf(nats);
  const splitEnd = cpuSplitMsOf(child.pid);
  const kernelMs = splitStart && splitEnd ? splitEnd.system - splitStart.system : Number.NaN;
  const events = Math.min(progress.processed, total) - base;
  const result: ConsumerRunResult = {
    label,
    events,
    seconds: round(seconds, 2),
    eventsPerSec: Math.round(events / seconds),
    cpuMsPerEvent: round((cpuEnd - cpuStart) / events, 4),
    kernelCpuPercent: round((100 * kernelMs) / (cpuEnd - cpuStart), 1),
    postgresCpuMsPerEvent: round(backends.usedMs() / events, 4),
    natsCpuMsPerEvent: natsStart === undefined || natsEnd === undefined ? null : round((natsEnd - natsStart) / events, 4),
    peakRssMb: round(peakRssMbOf(child.pid) ?? Number.NaN, 1),
    rssAt,
    rssAtEndMb: workingRss(progress.processed),
    redelivered: progress.redelivered,
    capped,
  };
  log(
    `${label}: ${events} events in ${result.seconds} s = ${compact(result.eventsPerSec)} ev/s` +
      `${capped ? ` (stopped at ${spec.maxSeconds} s)` : ''}; CPU/event ${result.cpuMsPerEvent} ms node + ` +
      `${result.postgresCpuMsPerEvent} ms postgres; peak RSS ${result.peakRssMb} MB`,
  );
  return result;
}
