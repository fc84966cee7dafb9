/**
 * The benchmark's output: `bench/results.json` (every figure, with the machine and the counts it was
 * measured on) and a Markdown report on stdout that can be pasted into the README as is.
 */
import type { ApiResult } from './api.js';
import { systemCpuMs, type IdleResult } from './idle.js';
import { LOAD_GENERATOR } from './support/probe.js';
import type { SyncAgentRun } from './ours.js';
import type { PropagationResult } from './propagation.js';
import type { QueryResult } from './query.js';
import type { RebuildResult } from './rebuild.js';
import type { RelayResult } from './relay.js';
import type { BenchConfig } from './support/config.js';
import type { ConsumerRunResult } from './support/consumer-run.js';
import type { CpuProfileSummary } from './support/profile.js';
import type { LatencySummary } from './support/stats.js';
import { round } from './support/stats.js';

export interface Meta {
  readonly scale: BenchConfig['scale'];
  readonly date: string;
  readonly nodeVersion: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly loadAverage: { readonly before: number[]; readonly max1m: number; readonly after: number[] };
  readonly commit: string;
  readonly durationSeconds: number;
}

export interface Measurements {
  backlog?: { events: number; pairing: number; licensing: number; products: number; publishSeconds: number };
  raw?: ConsumerRunResult;
  /** The raw script also verifying every event's signature: the ceiling for a consumer of signed events. */
  rawVerified?: ConsumerRunResult;
  naive?: ConsumerRunResult;
  ours?: SyncAgentRun;
  profiled?: SyncAgentRun;
  relay?: RelayResult;
  rebuild?: RebuildResult;
  query?: QueryResult;
  propagation?: PropagationResult[];
  api?: ApiResult;
  /** The started system with no traffic. */
  idle?: IdleResult;
  /** CPU profiles of the e2e services run under BENCH_CPU_PROF (the whole e2e/api phase, registration included). */
  serviceProfiles?: Record<string, CpuProfileSummary>;
  consistency?: Record<string, unknown>;
}

/** A headline figure with what it was measured on. */
interface Figure {
  readonly value: number | null;
  readonly unit: string;
  readonly eventCount: number | null;
  readonly cores: number;
}

interface Target {
  readonly name: string;
  readonly target: string;
  readonly actual: string;
  readonly met: boolean | null;
  /** How far off, when missed. */
  readonly miss: string | null;
}

/** A tuple without its first element. */
type Tail<T extends unknown[]> = T extends [unknown, ...infer Rest] ? Rest : never;

const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? round(a / b, 3) : null);

/** The propagation run judged at an offered rate (the median of its repeats by p99). */
const atRate = (m: Measurements, rate: number) => m.propagation?.find((p) => p.offeredPerSec === rate)?.median;

/** CPU per grant of the whole system (services, their PostgreSQL backends, nats-server) at 500 grants/s offered. */
function systemCpuMsPerGrant(m: Measurements): number | undefined {
  const run = atRate(m, 500);
  return run && run.grants > 0 ? systemCpuMs(run.cpuMsPerGrant) : undefined;
}

function targets(m: Measurements): Target[] {
  const list: Target[] = [];
  const at500 = atRate(m, 500);
  const at1000 = atRate(m, 1000);
  // Under BENCH_CPU_PROF the profiler's own sampling costs CPU in the services it profiles (several % of a core
  // each, idle or not): the figures of the running system are shown, not judged.
  const profiled = Object.keys(m.serviceProfiles ?? {}).length > 0;
  const push = (target: Target, ofTheSystem: boolean) =>
    list.push(
      ofTheSystem && profiled && target.met !== null
        ? { ...target, actual: `${target.actual} (under --cpu-prof)`, met: null, miss: null }
        : target,
    );
  /** A figure against its bound: at least `bound` (a floor) or at most (a ceiling). */
  const judge = (
    kind: 'floor' | 'ceiling',
    name: string,
    actual: number | null | undefined,
    bound: number,
    show: (v: number) => string,
    ofTheSystem = true,
  ) => {
    const met = actual == null ? null : kind === 'floor' ? actual >= bound : actual <= bound;
    const miss =
      met !== false || actual == null
        ? null
        : kind === 'floor'
          ? `${round((100 * (bound - actual)) / bound, 1)} % short`
          : actual >= 2 * bound
            ? `${round(actual / bound, 1)}× the target`
            : `${round((100 * (actual - bound)) / bound, 1)} % over`;
    push(
      {
        name,
        target: `${kind === 'floor' ? '≥' : '≤'} ${show(bound)}`,
        actual: actual == null ? 'not measured' : show(actual),
        met,
        miss,
      },
      ofTheSystem,
    );
  };
  const atLeast = (...args: Tail<Parameters<typeof judge>>) => judge('floor', ...args);
  const atMost = (...args: Tail<Parameters<typeof judge>>) => judge('ceiling', ...args);
  const pct = (v: number) => `${round(100 * v, 1)} %`;
  const msOf = (v: number) => `${v} ms`;
  atMost('CPU per grant, end to end, at 500 grants/s offered', systemCpuMsPerGrant(m), 1.5, msOf);
  atLeast(`API writes, ${m.api?.concurrency ?? 16} clients`, m.api?.writesPerSec, 1000, (v) => `${v} grants/s`);
  atMost('API latency p99 at that rate', m.api?.median.apiLatencyMs.p99, 50, msOf);
  atMost('propagation p50 at 500 grants/s', at500?.latencyMs.p50, 10, msOf);
  atMost('propagation p99 at 500 grants/s', at500?.latencyMs.p99, 25, msOf);
  atMost('propagation p99 at 1,000 grants/s', at1000?.latencyMs.p99, 100, msOf);
  if (at1000 && at1000.achievedPerSec < 0.95 * 1000) {
    push(
      {
        name: 'keeps up at 1,000 grants/s offered',
        target: '≥ 950 grants/s achieved',
        actual: `${at1000.achievedPerSec} grants/s (${at1000.notIssued} not issued)`,
        met: false,
        miss: `${round((100 * (1000 - at1000.achievedPerSec)) / 1000, 1)} % short`,
      },
      true,
    );
  }
  atLeast(
    'projection catch-up: ours / raw with verification',
    ratio(m.ours?.eventsPerSec, m.rawVerified?.eventsPerSec),
    0.7,
    pct,
    false,
  );
  atLeast('rebuild / raw with verification', ratio(m.rebuild?.eventsPerSec, m.rawVerified?.eventsPerSec), 0.7, pct, false);
  const memory = m.rebuild?.memory;
  if (memory && !memory.complete) {
    // A rebuild stopped before the second mark says nothing about "flat up to 1 M": shown, not judged.
    list.push({
      name: `memory (rebuild): RSS after ${memory.to.events.toLocaleString('en-US')} / after ${memory.from.events.toLocaleString('en-US')} events`,
      target: '≤ ×1.2 (up to the second mark)',
      actual: `×${round(memory.growth, 3)} (rebuild stopped at its time cap before the second mark)`,
      met: null,
      miss: null,
    });
  } else {
    atMost(
      memory
        ? `memory (rebuild): RSS after ${memory.to.events.toLocaleString('en-US')} / after ${memory.from.events.toLocaleString('en-US')} events`
        : 'memory (rebuild): RSS after 1 M / after 100 k events',
      memory?.growth,
      1.2,
      (v) => `×${round(v, 3)}`,
      false,
    );
  }
  // The live agent consumes the backlog (200 k in the full run), not 1 M events: its growth so far is shown, not judged.
  const live = m.ours?.rssAt[0];
  if (m.ours && live && m.ours.events > live.events) {
    list.push({
      name: `memory (live sync agent): RSS after ${m.ours.events.toLocaleString('en-US')} / after ${live.events.toLocaleString('en-US')} events`,
      target: '≤ ×1.2 (the target is at 1 M)',
      actual: `×${round(m.ours.rssAtEndMb / live.rssMb, 3)}`,
      met: null,
      miss: null,
    });
  }
  atMost('idle: the whole system with no traffic, % of one core', m.idle?.cpuPercent, 2, (v) => `${v} %`);
  return list;
}

export function buildResults(meta: Meta, m: Measurements, errors: Record<string, string>): Record<string, unknown> {
  const figure = (value: number | undefined, unit: string, eventCount: number | undefined): Figure => ({
    value: value ?? null,
    unit,
    eventCount: eventCount ?? null,
    cores: meta.cores,
  });
  const at500 = atRate(m, 500);
  const at1000 = atRate(m, 1000);
  return {
    scale: meta.scale,
    cores: meta.cores,
    eventCount: m.backlog?.events ?? null,
    date: meta.date,
    nodeVersion: meta.nodeVersion,
    meta,
    oursEventsPerSec: figure(m.ours?.eventsPerSec, 'events/s', m.ours?.events),
    rawEventsPerSec: figure(m.raw?.eventsPerSec, 'events/s', m.raw?.events),
    rawVerifiedEventsPerSec: figure(m.rawVerified?.eventsPerSec, 'events/s', m.rawVerified?.events),
    naiveEventsPerSec: figure(m.naive?.eventsPerSec, 'events/s', m.naive?.events),
    cpuMsPerGrant: figure(systemCpuMsPerGrant(m), 'ms', at500?.grants),
    propagationP50MsAt500: figure(at500?.latencyMs.p50, 'ms', at500?.grants),
    propagationP99MsAt500: figure(at500?.latencyMs.p99, 'ms', at500?.grants),
    propagationP99MsAt1000: figure(at1000?.latencyMs.p99, 'ms', at1000?.grants),
    rebuildEventsPerSec: figure(m.rebuild?.eventsPerSec, 'events/s', m.rebuild?.events),
    apiWritesPerSec: figure(m.api?.writesPerSec, 'requests/s', m.api?.median.grants),
    relayEventsPerSec: figure(m.relay?.eventsPerSec, 'events/s', m.relay?.events),
    idleCpuPercent: figure(m.idle?.cpuPercent, '% of one core', 0),
    ratios: {
      oursOverRaw: ratio(m.ours?.eventsPerSec, m.raw?.eventsPerSec),
      oursOverRawVerified: ratio(m.ours?.eventsPerSec, m.rawVerified?.eventsPerSec),
      oursOverNaive: ratio(m.ours?.eventsPerSec, m.naive?.eventsPerSec),
      rebuildOverRaw: ratio(m.rebuild?.eventsPerSec, m.raw?.eventsPerSec),
      rebuildOverRawVerified: ratio(m.rebuild?.eventsPerSec, m.rawVerified?.eventsPerSec),
    },
    targets: targets(m),
    details: m,
    errors,
  };
}

const n = (v: number | undefined | null) => (v == null ? 'n/a' : v.toLocaleString('en-US'));
const ms = (v: number | undefined) => (v == null || Number.isNaN(v) ? 'n/a' : `${v}`);

function consumerRow(label: string, r: ConsumerRunResult | undefined, raw: ConsumerRunResult | undefined): string {
  if (!r) return `| ${label} | not measured | | | | | |`;
  const vsRaw = raw ? `${round((100 * r.eventsPerSec) / raw.eventsPerSec, 1)} %` : 'n/a';
  const events = `${n(r.events)}${r.capped ? ' (time cap)' : ''}`;
  const cpu = `${r.cpuMsPerEvent} + ${r.postgresCpuMsPerEvent}${r.natsCpuMsPerEvent == null ? '' : ` + ${r.natsCpuMsPerEvent}`}`;
  return `| ${label} | ${events} | **${n(r.eventsPerSec)}** | ${cpu} | ${r.kernelCpuPercent} % | ${r.peakRssMb} | ${vsRaw} |`;
}

function latencyCells(l: LatencySummary): string {
  return `${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p95)} | ${ms(l.p99)} | ${ms(l.max)}`;
}

export function markdownReport(meta: Meta, m: Measurements, errors: Record<string, string>): string {
  const lines: string[] = [];
  const b = m.backlog;
  lines.push(
    `Scale \`${meta.scale}\`, ${meta.cores} cores (${meta.cpuModel}), ${meta.memoryGb} GB, Node ${meta.nodeVersion}, ` +
      `commit ${meta.commit}, ${meta.date.slice(0, 16).replace('T', ' ')} UTC; load average ${meta.loadAverage.before[0]} before, ` +
      `up to ${meta.loadAverage.max1m} during, ${meta.durationSeconds} s in all.`,
    '',
  );
  lines.push(
    `**Projection throughput**: backlog of ${n(b?.events)} events (${n(b?.pairing)} pairing for ${n(b?.products)} products in ` +
      `${n(b ? b.products / 2 : undefined)} pairs, ${n(b?.licensing)} license grants/renewals/revocations), consumed from JetStream into PostgreSQL.`,
    '',
    '| Consumer | Events | Events/s | CPU ms/event (node + postgres + nats) | node CPU in kernel | Peak RSS MB | vs raw |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    consumerRow('raw limit (batched upserts, no framework)', m.raw, m.raw),
    consumerRow('raw limit + Ed25519 verification of each event', m.rawVerified, m.raw),
    consumerRow('naive (Nest + TypeORM, one event per transaction)', m.naive, m.raw),
    consumerRow('**ours** (sync agent)', m.ours, m.raw),
    consumerRow(
      `rebuild (\`npm run rebuild\`, whole backlog${m.rebuild && !m.rebuild.capped && !m.rebuild.switchedOver ? ', did NOT switch over' : ''})`,
      m.rebuild,
      m.raw,
    ),
  );
  if (m.relay) {
    lines.push(
      `| relay (outbox → JetStream) | ${n(m.relay.events)} | **${n(m.relay.eventsPerSec)}** | ${m.relay.cpuMsPerEvent} + ${m.relay.postgresCpuMsPerEvent} | | ${m.relay.peakRssMb} | |`,
    );
  }
  lines.push('');
  const r = (a?: number, c?: number) => ratio(a, c) ?? 'n/a';
  lines.push(
    `ours/raw **${r(m.ours?.eventsPerSec, m.raw?.eventsPerSec)}** (ours/raw with verification ` +
      `**${r(m.ours?.eventsPerSec, m.rawVerified?.eventsPerSec)}**), ours/naive **${r(m.ours?.eventsPerSec, m.naive?.eventsPerSec)}**, ` +
      `rebuild/raw **${r(m.rebuild?.eventsPerSec, m.raw?.eventsPerSec)}** (with verification ` +
      `**${r(m.rebuild?.eventsPerSec, m.rawVerified?.eventsPerSec)}**).` +
      (m.ours
        ? ` ours wrote ${n(m.ours.outboxEvents)} EffectiveLicensesChanged; its relay had published them all ${m.ours.outboxDrainedAfterSeconds ?? 'n/a'} s after the last ack.` +
          ` At ${m.ours.cpuMsPerEvent} ms of its own CPU per event on one thread, the sync agent cannot exceed ~${n(Math.round(1000 / m.ours.cpuMsPerEvent))} events/s` +
          ` on this machine however idle it is (raw: ~${m.raw ? n(Math.round(1000 / m.raw.cpuMsPerEvent)) : 'n/a'}).`
        : ''),
    '',
  );
  if (m.propagation || m.api) {
    lines.push(
      "**Propagation** (licensing API 201 → the Secondary's EffectiveLicensesChanged showing the license, ms; median of " +
        `${m.propagation?.[0]?.runs.length ?? m.api?.runs.length ?? 0} runs by p99):`,
      '',
      '| Offered grants/s | Achieved/s | Grants | p50 | p90 | p95 | p99 | max | Lost | of which relay p50 / p99 | then projection p50 / p99 | Sync agent batches: events / ms each | CPU ms per grant | Licenses behind each Secondary set, mean / max |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const p of [...(m.propagation ?? []), ...(m.api ? [m.api.propagation] : [])]) {
      const run = p.median;
      const offered = p.offeredPerSec === 'max' ? `max (${m.api?.concurrency} clients)` : n(p.offeredPerSec);
      lines.push(
        `| ${offered} | ${n(run.achievedPerSec)} | ${n(run.grants)} | ${latencyCells(run.latencyMs)} | ${run.lost} | ` +
          `${ms(run.relayHopMs.p50)} / ${ms(run.relayHopMs.p99)} | ${ms(run.projectionHopMs.p50)} / ${ms(run.projectionHopMs.p99)} | ` +
          `${run.projector.eventsPerBatch} / ${ms(run.projector.msPerBatch)} | ${run.grants > 0 ? systemCpuMs(run.cpuMsPerGrant) : 'n/a'} | ${run.licensesPerSet.mean} / ${run.licensesPerSet.max} |`,
      );
    }
    lines.push('');
    const at500 = atRate(m, 500);
    if (at500 && at500.grants > 0) {
      lines.push(
        `**CPU per grant at 500 grants/s offered** (the median run; every process of the system): ${systemCpuMs(at500.cpuMsPerGrant)} ms = ` +
          Object.entries(at500.cpuMsPerGrant)
            .filter(([label]) => label !== LOAD_GENERATOR)
            .map(([label, cpu]) => `${label} ${cpu}`)
            .join(' + ') +
          ` (the load generator, not counted: ${at500.cpuMsPerGrant[LOAD_GENERATOR] ?? 'n/a'} ms). nats-server is the machine's shared server: ` +
          'anything else using it in the window is counted too.',
        '',
      );
    }
  }
  if (m.idle) {
    lines.push(
      `**Idle** (the started system, no traffic, ${m.idle.seconds} s): ${m.idle.cpuPercent} % of one core; CPU ms over the window: ` +
        Object.entries(m.idle.cpuMsByProcess)
          .filter(([label]) => label !== LOAD_GENERATOR)
          .map(([label, cpu]) => `${label} ${cpu}`)
          .join(', ') +
        '.',
      '',
    );
  }
  if (m.api) {
    const a = m.api.median;
    lines.push(
      `**Licensing API writes**: ${n(m.api.writesPerSec)} grants/s with ${m.api.concurrency} concurrent clients ` +
        `(latency p50 ${a.apiLatencyMs.p50} ms, p90 ${a.apiLatencyMs.p90}, p99 ${a.apiLatencyMs.p99}, max ${a.apiLatencyMs.max}; median of ${m.api.runs.length} runs). ` +
        `CPU per grant, ms: ${Object.entries(a.cpuMsPerGrant)
          .map(([label, cpu]) => `${label} ${cpu}`)
          .join(', ')}. Database per grant: ${Object.entries(m.api.databasePerGrant)
          .map(([k, v]) => `${k} ${v}`)
          .join(
            ', ',
          )} (WAL fsyncs are the whole server's). PostgreSQL backends (pg_stat_activity samples): ${m.api.postgresProfile.statements
          .slice(0, 6)
          .map((x) => `\`${x.statement}\` ${x.percent} %`)
          .join(', ')}.`,
      '',
    );
  }
  if (m.query) {
    const q = m.query;
    lines.push(
      `**Effective-set query** with ${n(q.licenses)} licenses on ${n(q.products)} products: one client p50 ${q.latencyMs.p50} ms, ` +
        `p90 ${q.latencyMs.p90}, p99 ${q.latencyMs.p99}, max ${q.latencyMs.max} ms; 16 clients ${n(q.concurrentRequestsPerSec)} requests/s ` +
        `(p99 ${q.concurrentLatencyMs.p99} ms).`,
      '',
    );
  }
  if (m.rebuild || m.ours) {
    const mem = m.rebuild?.memory;
    const oursAt = m.ours?.rssAt[0];
    lines.push(
      `**Memory** (sync agent RSS): rebuild ${mem ? `${mem.from.rssMb} MB after ${n(mem.from.events)} events, ${mem.to.rssMb} MB after ${n(mem.to.events)} (×${mem.growth})` : 'not sampled'}` +
        `${m.rebuild ? `, peak ${m.rebuild.peakRssMb} MB` : ''}` +
        (m.ours
          ? `; ours ${oursAt ? `${oursAt.rssMb} MB after ${n(oursAt.events)} events, ` : ''}${m.ours.rssAtEndMb} MB after ${n(m.ours.events)}.`
          : '.'),
      '',
    );
  }
  lines.push('**Targets**', '', '| Target | Goal | Measured | |', '| --- | ---: | ---: | --- |');
  for (const t of targets(m)) {
    lines.push(
      `| ${t.name} | ${t.target} | ${t.actual} | ${t.met === null ? 'not judged' : t.met ? 'met' : `**missed** (${t.miss})`} |`,
    );
  }
  lines.push('');
  if (m.profiled?.cpuProfile) {
    const p = m.profiled.cpuProfile;
    lines.push(
      `**Where ours spends its time** (${m.profiled.label}: ${n(m.profiled.events)} events, ${n(m.profiled.eventsPerSec)} ev/s under the profiler; ` +
        `CPU per event ${m.profiled.cpuMsPerEvent} ms node, ${m.profiled.postgresCpuMsPerEvent} ms postgres):`,
      '',
      `- node by area: ${p.byArea
        .slice(0, 8)
        .map((a) => `${a.area} ${a.percent} %`)
        .join(', ')}`,
      `- node top functions: ${p.topFunctions
        .slice(0, 8)
        .map((f) => `\`${f.fn}\` ${f.percent} %`)
        .join(', ')}`,
    );
    if (m.profiled.postgresProfile) {
      lines.push(
        `- postgres backends (pg_stat_activity samples): ${m.profiled.postgresProfile.statements
          .slice(0, 6)
          .map((s) => `\`${s.statement}\` ${s.percent} %`)
          .join(', ')}`,
      );
    }
    lines.push('');
  }
  for (const [service, p] of Object.entries(m.serviceProfiles ?? {})) {
    lines.push(
      `**Where ${service} spends its time** in the e2e phase (\`node --cpu-prof\`, ${n(p.busyMs)} ms busy, registration included):`,
      '',
      `- by area: ${p.byArea
        .slice(0, 10)
        .map((a) => `${a.area} ${a.percent} %`)
        .join(', ')}`,
      `- top functions: ${p.topFunctions
        .slice(0, 15)
        .map((f) => `\`${f.fn}\` ${f.percent} %`)
        .join(', ')}`,
      '',
    );
  }
  const failures = Object.entries(errors);
  if (failures.length > 0) {
    lines.push('**Not measured (errors)**', '');
    for (const [phase, message] of failures) lines.push(`- ${phase}: ${message.split('\n')[0]}`);
    lines.push('');
  }
  return lines.join('\n');
}
