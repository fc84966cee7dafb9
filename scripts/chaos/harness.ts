/**
 * The chaos run: a private PostgreSQL and NATS (one nats-server, or a 3-node JetStream cluster), the three services
 * as processes against them, a mixed load, a readiness poller, a nemesis that kills, restarts, partitions and cuts
 * the power of everything, injections onto the bus; then quiet, reconciliation against the oracles, and a report.
 * Used by `npm run chaos` (run.ts) and, short, by test/chaos.e2e.spec.ts.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { busNames } from '#shared/contracts';
import { request, type HttpOptions, type Reply } from './http.js';
import { Injector } from './injector.js';
import { Load, Random, Recorder } from './load.js';
import { MetricsWatcher } from './metrics.js';
import { ChaosBus, type BusMode } from './nats-bus.js';
import {
  Nemesis,
  countFaults,
  faultPlan,
  faultsPerRound,
  type ConvergencePhases,
  type ConvergePhasesMs,
  type DownWindow,
  type Fault,
  type FaultCounts,
  type FaultRecord,
  type PlanSettings,
} from './nemesis.js';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.js';
import { checkReadiness, describeViolation, type AckedWrite, type ReadinessVerdict } from './readiness-oracle.js';
import { ReadinessPoller, type ReadinessPollCounts } from './readiness-poller.js';
import {
  checkEffectiveSets,
  checkStores,
  checkStreams,
  readReadinessFacts,
  resolveUnknowns,
  waitForQuiet,
  type Backends,
} from './reconcile.js';
import { startSystem, type RunningSystem } from '#shared/testing';
import { SERVICES, freePort, type ServiceName } from '#shared/tools';
import { World, type ProductEntry } from './world.js';

export interface ChaosOptions {
  /** How long the load and the nemesis run. */
  readonly seconds: number;
  readonly seed: number;
  readonly concurrency: number;
  readonly requestTimeoutMs: number;
  readonly thinkMs: number;
  readonly maxProducts: number;
  /** The bus: one nats-server, or a 3-node JetStream cluster whose streams have 3 replicas. */
  readonly bus: BusMode;
  /**
   * [min, max] length of a NATS outage, of a PostgreSQL outage, of the unsynced tail a power loss loses, of a
   * node's kill or partition, and of the pause between two faults.
   */
  readonly natsDownMs: readonly [number, number];
  readonly postgresDownMs: readonly [number, number];
  readonly powerLossTailMs: readonly [number, number];
  readonly nodeDownMs: readonly [number, number];
  readonly gapMs: readonly [number, number];
  readonly convergeTimeoutMs: number;
  readonly quietTimeoutMs: number;
  /** Faults inflicted even if the time is up; default one round of the plan, so every fault the bus allows. */
  readonly minFaults?: number;
  /** Only these kinds of fault (default all): to chase one failure. */
  readonly faultKinds?: readonly Fault['kind'][];
  /** Injections per round, and how often a round runs. */
  readonly injectEveryMs: number;
  /** Pause between two readiness requests of the poller. */
  readonly readinessEveryMs: number;
  readonly apiKey: string;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** Settings scaled to the run's length: a short run has short outages and pauses so it still sees every fault. */
export function chaosOptions(seconds: number, overrides: Partial<ChaosOptions> = {}): ChaosOptions {
  const long = seconds >= 300;
  return {
    seconds,
    seed: Math.floor(Math.random() * 2 ** 31),
    concurrency: 4,
    requestTimeoutMs: 10_000,
    thinkMs: 20,
    maxProducts: Math.round(40 + seconds / 2),
    bus: 'cluster',
    natsDownMs: long ? [20_000, 60_000] : [3_000, 5_000],
    postgresDownMs: long ? [3_000, 15_000] : [1_000, 2_000],
    // nats-server 2.9 syncs its store every 2 minutes: a power loss loses up to that much.
    powerLossTailMs: long ? [10_000, 90_000] : [3_000, 8_000],
    nodeDownMs: long ? [10_000, 30_000] : [3_000, 8_000],
    gapMs: long ? [5_000, 20_000] : [500, 2_000],
    convergeTimeoutMs: 180_000,
    quietTimeoutMs: 300_000,
    injectEveryMs: long ? 3_000 : 1_500,
    readinessEveryMs: 25,
    apiKey: `chaos-operator-${randomBytes(16).toString('hex')}`,
    log: (line) => console.log(line),
    ...overrides,
  };
}

export interface RequestCounts {
  ok: number;
  failed: number;
  indeterminate: number;
  refused: number;
}

export interface FaultSummary {
  readonly label: string;
  readonly convergeMs: number | null;
  readonly convergePhasesMs: ConvergePhasesMs | null;
  /**
   * Answers to requests made while a dependency was down: 503 problem+json; a normal answer (the request raced
   * the outage, or needed only what was up); any other server error (a failed check).
   */
  readonly whileDown: { problem503: number; answered: number; otherServerError: number } | null;
  /** What the fault did beyond its label (the tail a power loss took). */
  readonly detail: string | null;
  readonly error: string | null;
}

/** The readiness oracle's findings (see readiness-oracle.ts), with the poller's other answers. */
export interface ReadinessSummary extends ReadinessVerdict {
  readonly polls: ReadinessPollCounts;
  /** Blocking gap codes over every 200 answer, with how often each was given. */
  readonly gapCodes: Readonly<Record<string, number>>;
  readonly acknowledgedWrites: number;
  readonly appliedAtSource: string;
}

export interface ChaosReport {
  readonly seed: number;
  readonly seconds: number;
  /** The bus: single server or cluster, its nodes, and the replicas each stream had. */
  readonly bus: { readonly mode: BusMode; readonly nodes: number; readonly replicas: Readonly<Record<string, number>> };
  readonly requests: Record<string, RequestCounts>;
  readonly totals: RequestCounts;
  readonly world: World['counts'];
  readonly eventsInStores: Record<string, number>;
  readonly eventsPublished: number | null;
  readonly redeliveries: number | null;
  /** Redeliveries the projector recognised as the message that applied the event, and acknowledged. */
  readonly redeliveredAbsorbed: number | null;
  /** Dead letters by kind: copies of applied events, older versions, and poison (every other reason). */
  readonly replaysDeadLettered: number | null;
  readonly staleDeadLettered: number | null;
  readonly poisonRejected: number | null;
  readonly deadLettered: number | null;
  readonly injected: { duplicates: number; staleCopies: number; poison: number; skipped: number };
  readonly finalRound: { duplicates: string; stale: string; poison: string };
  readonly faults: readonly FaultSummary[];
  /** How many faults of each kind the nemesis inflicted. */
  readonly faultCounts: FaultCounts;
  readonly readiness: ReadinessSummary;
  readonly resolved: { tookEffect: number; didNot: number };
  readonly storeMismatches: readonly string[];
  readonly notOnStream: readonly string[];
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly productsChecked: number;
  readonly hung: number;
  readonly nonProblemErrors: number;
  readonly non503ServerErrors: number;
  readonly quietMs: number;
  /** Lines the services logged at ERROR level (the first 50), to explain a failed check. */
  readonly serviceErrors: readonly string[];
  /** Distinct server errors other than 503 problem+json: `service op → status code` with how many. */
  readonly non503Examples: readonly string[];
  /** Output of processes that did not exit cleanly on SIGTERM. */
  readonly uncleanExitLogs: readonly string[];
  /** Every check that failed, in words; empty when the run passed. */
  readonly failures: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A convergence whose services take longer than this to be ready logs what their /readyz said meanwhile. */
const SLOW_TO_BE_READY_MS = 5_000;

/** A /health answer other than 200, briefly: its status and the checks that failed (`503 (postgres down, not started)`). */
function describeUnready(status: number, body: string): string {
  if (status === 0) return 'no answer';
  let checks: Record<string, string | boolean> = {};
  try {
    checks = (JSON.parse(body) as { checks?: Record<string, string | boolean> }).checks ?? {};
  } catch {
    // not the services' health report: the status says it
  }
  const failed = Object.entries(checks).flatMap(([check, state]) =>
    state === 'up' || state === true ? [] : [state === false ? `not ${check}` : `${check} ${String(state)}`],
  );
  return `${status}${failed.length > 0 ? ` (${failed.join(', ')})` : ''}`;
}

/** Runs the whole chaos scenario and returns its report; the private servers and processes are gone afterwards. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const random = new Random(options.seed);
  const root = await mkdtemp(join(tmpdir(), 'ha-chaos-'));
  await chmod(root, 0o711);
  let postgres: PrivatePostgres | undefined;
  let bus: ChaosBus | undefined;
  let system: RunningSystem | undefined;
  let nc: NatsConnection | undefined;
  let injector: Injector | undefined;
  let metrics: MetricsWatcher | undefined;
  let poller: ReadinessPoller | undefined;
  try {
    log(`chaos: seed ${options.seed}, ${options.seconds} s, ${options.concurrency} workers; working directory ${root}`);
    postgres = await startPrivatePostgres(join(root, 'postgres'), await freePort(), 'ha_chaos');
    log(`  PostgreSQL (private) on 127.0.0.1:${postgres.port}`);
    bus = await ChaosBus.start(join(root, 'nats'), options.bus);
    const natsUrls = bus.urls;
    log(
      options.bus === 'cluster'
        ? `  NATS (private): a 3-node JetStream cluster on ${natsUrls.join(', ')}, streams with ${bus.replicas} replicas`
        : `  NATS (private): nats-server with JetStream on ${natsUrls.join(', ')}`,
    );
    system = await startSystem('chaos', {
      postgres,
      natsUrl: natsUrls.join(','),
      env: {
        OPERATOR_API_KEY: options.apiKey,
        STREAM_REPLICAS: String(bus.replicas),
        // The harness checks correctness, not abuse: its load and its read-back of every entity after quiet come from
        // one key, faster than a client's per-key limit allows, and a 429 would read as a store mismatch.
        RATE_LIMIT_PER_MINUTE: '100000000',
        RATE_LIMIT_BURST: '100000000',
        // Its own bus, so the production size: the reconciliation expects every stored event still on its stream.
        STREAM_MAX_BYTES: String(1024 ** 3),
      },
      readyTimeoutMs: 120_000,
    });
    const sys = system;
    const urls = Object.fromEntries(SERVICES.map(({ name }) => [name, sys.urlOf(name)])) as Record<ServiceName, string>;
    log(`  services: ${SERVICES.map(({ name }) => `${name} ${urls[name]}`).join(', ')}`);

    const names = busNames(system.namespace);
    const jsm = async (): Promise<JetStreamManager> => {
      if (!nc || nc.isClosed()) nc = await connect({ servers: natsUrls, name: 'chaos-inspector', maxReconnectAttempts: -1 });
      return jetstreamManager(nc, { timeout: 5000 });
    };
    const streamNames = [...SERVICES.map(({ name }) => names.stream(name)), names.deadLetterStream];
    const lastSequences = async (): Promise<Record<string, number> | null> => {
      try {
        const manager = await jsm();
        const entries = await Promise.all(
          streamNames.map(async (stream) => [stream, (await manager.streams.info(stream)).state.last_seq] as const),
        );
        return Object.fromEntries(entries);
      } catch {
        return null;
      }
    };
    const backends: Backends = { postgres, schemas: system.schemas, jsm, names };
    const http: HttpOptions = { apiKey: options.apiKey, timeoutMs: options.requestTimeoutMs };
    const world = new World();
    const recorder = new Recorder();
    const load = new Load(world, urls, http, random, recorder, {
      concurrency: options.concurrency,
      maxProducts: options.maxProducts,
      thinkMs: options.thinkMs,
    });
    metrics = new MetricsWatcher(http, () =>
      SERVICES.map(({ name }) => ({
        service: name,
        url: urls[name],
        pid: sys.processes[name].hasExited ? undefined : sys.processes[name].child.pid,
      })),
    );
    metrics.start(1000);
    injector = await Injector.connect(natsUrls, names, random);
    // Its own generator, so polling does not shift the load's and the nemesis's choices of a seed.
    poller = new ReadinessPoller(
      world,
      recorder,
      urls['sync-agent'],
      http,
      new Random(options.seed + 1),
      options.readinessEveryMs,
    );

    // Every stream must have the bus's replicas (the services create them with STREAM_REPLICAS).
    const replicas: Record<string, number> = {};
    for (const stream of streamNames) {
      const manager = await jsm();
      const info = await eventuallyValue(() => manager.streams.info(stream), 60_000);
      replicas[stream] = info.config.num_replicas;
    }
    const underReplicated = Object.entries(replicas).filter(([, n]) => n !== bus!.replicas);
    if (underReplicated.length > 0)
      throw new Error(`streams without ${bus.replicas} replicas: ${underReplicated.map(([s, n]) => `${s} ${n}`).join(', ')}`);
    log(
      `  streams: ${Object.entries(replicas)
        .map(([s, n]) => `${s} (${n} replica${n === 1 ? '' : 's'})`)
        .join(', ')}`,
    );

    // The probe product: a fresh grant on it must reach the sync agent for the system to count as converged.
    let probe: ProductEntry | undefined;
    for (let attempt = 0; !probe && attempt < 50; attempt++) {
      const reply = await load.register(true);
      if (reply.outcome === 'ok') probe = [...world.products.values()].find((p) => p.reserved && p.registered === 'yes');
      else await sleep(200);
    }
    if (!probe) throw new Error('could not register the probe product');
    const probeEntry = probe;

    // The nemesis needs converge(), which revives what the nemesis did not kill: a late-bound reference.
    const crashes: { revive: () => void } = { revive: () => undefined };
    const converge = async (timeoutMs: number): Promise<ConvergencePhases> => {
      const startedAt = Date.now();
      const deadline = startedAt + timeoutMs;
      // The last answer other than 200 of each service: what a slow wait for readiness says about itself.
      const unready = new Map<string, string>();
      const onUnready = (name: string, status: number, body: string) => unready.set(name, describeUnready(status, body));
      try {
        for (;;) {
          crashes.revive();
          try {
            await sys.waitUntilHealthy(Math.max(1000, deadline - Date.now()), onUnready);
            break;
          } catch (error) {
            if (Date.now() >= deadline) throw error;
            await sleep(200);
          }
        }
      } finally {
        if (Date.now() - startedAt > SLOW_TO_BE_READY_MS) {
          const answers = [...unready].map(([name, answer]) => `${name} ${answer}`).join('; ');
          log(
            `    ready only after ${((Date.now() - startedAt) / 1000).toFixed(1)} s; last answers: ${answers || 'none but 200'}`,
          );
        }
      }
      const healthyAt = Date.now();
      let licenseId: string | undefined;
      while (!licenseId) {
        if (Date.now() >= deadline) throw new Error('the probe grant was never acknowledged');
        const reply: Reply = await load.grant(probeEntry, 'SUPPORT_8X5');
        if (reply.outcome === 'ok') licenseId = (reply.body as { licenseId: string }).licenseId;
        else await sleep(250);
      }
      const acknowledgedAt = Date.now();
      const applied = { done: false };
      const stored = storedAtOf(licenseId, () => applied.done || Date.now() >= deadline);
      for (;;) {
        const reply = await request(http, urls['sync-agent'], 'GET', `/products/${probeEntry.product.serial}/effective-licenses`);
        const set = reply.body as { licenses?: { sources: { licenseId: string }[] }[] } | null;
        if (reply.outcome === 'ok' && set?.licenses?.some((l) => l.sources.some((s) => s.licenseId === licenseId))) break;
        if (Date.now() >= deadline) {
          applied.done = true;
          throw new Error(`the probe license ${licenseId} did not reach the sync agent`);
        }
        await sleep(100);
      }
      const appliedAt = Date.now();
      applied.done = true;
      return { healthyAt, acknowledgedAt, storedAt: await stored, appliedAt };
    };
    // When the probe's license event was stored on the licensing stream (JetStream's timestamp), or null if it was not
    // seen there before `over()`: the probe product's subject carries only the probe's grants.
    const probeSubject = names.subjectsOfType('EntitlementChanged').replace(/\*$/, probeEntry.product.serial);
    const storedAtOf = async (licenseId: string, over: () => boolean): Promise<number | null> => {
      for (;;) {
        const last = over(); // once applied, the event is on the stream: one more look finds it
        try {
          const message = await (await jsm()).streams.getMessage(names.stream('licensing'), { last_by_subj: probeSubject });
          const event = message?.json<{ data: { license: { licenseId: string } } }>();
          if (message && event?.data.license.licenseId === licenseId) return message.time.getTime();
        } catch {
          // JetStream not answering yet: ask again
        }
        if (last) return null;
        await sleep(100);
      }
    };
    const nemesis = new Nemesis({
      system,
      bus,
      postgres,
      random,
      converge,
      lastSequences,
      log,
      convergeTimeoutMs: options.convergeTimeoutMs,
    });
    crashes.revive = () => nemesis.reviveCrashed();

    // ---- the run ----
    const startedAt = Date.now();
    const until = startedAt + options.seconds * 1000;
    load.start();
    poller.start();
    let over = false; // set when the time is up and the nemesis has inflicted at least minFaults
    const injecting = (async () => {
      while (!over && !options.signal?.aborted) {
        await sleep(options.injectEveryMs);
        await injector.round(2, 1, 1);
      }
    })();
    const progress = setInterval(() => {
      const t = tally(recorder);
      const c = world.counts;
      log(
        `  t=${Math.round((Date.now() - startedAt) / 1000)} s: requests ok ${t.ok}, failed ${t.failed}, indeterminate ${t.indeterminate + t.refused}; ` +
          `${c.products} products, ${c.activePairs}/${c.pairs} pairs active, ${c.licenses} licenses; ` +
          `${nemesis.records.length} faults; injected ${injector!.counts.duplicates} duplicates, ${injector!.counts.staleCopies} stale, ${injector!.counts.poison} poison; ` +
          `readiness ${poller!.answers.length} answers (${poller!.answers.filter((a) => a.ready).length} ready)`,
      );
    }, 10_000);
    const planSettings: PlanSettings = {
      natsDownMs: options.natsDownMs,
      postgresDownMs: options.postgresDownMs,
      powerLossTailMs: options.powerLossTailMs,
      nodeDownMs: options.nodeDownMs,
      nodes: bus.nodes.length,
      ...(options.faultKinds ? { kinds: options.faultKinds } : {}),
    };
    const plan = faultPlan(random, 1000, planSettings);
    const minFaults = options.minFaults ?? faultsPerRound(planSettings);
    try {
      await nemesis.run(plan, until, options.gapMs, options.signal ?? new AbortController().signal, minFaults);
      while (Date.now() < until && !options.signal?.aborted) await sleep(200);
    } finally {
      over = true;
      clearInterval(progress);
      await load.stop();
      await injecting;
    }
    if (options.signal?.aborted) throw new Error('aborted');
    log(`run over after ${Math.round((Date.now() - startedAt) / 1000)} s; waiting for quiet`);

    // ---- quiet, a last injection round whose effect is measured exactly, quiet again ----
    nemesis.reviveCrashed();
    await system.waitUntilHealthy(options.convergeTimeoutMs);
    let quietMs = await waitForQuiet(backends, options.quietTimeoutMs, log);
    // Readiness is strict (nothing pending, every committed event applied), so under load it is rarely claimed: the
    // poller goes on through the quiet, where pairs are ready and each ready answer is judged like the others.
    await sleep(3000);
    await poller.stop();
    const agentPid = () => sys.processes['sync-agent'].child.pid;
    await metrics.scrape();
    const before = finalCounters(metrics, agentPid());
    const final = await injector.round(5, 5, 3);
    quietMs += await waitForQuiet(backends, options.quietTimeoutMs, log);
    await sleep(500);
    await metrics.scrape();
    const after = finalCounters(metrics, agentPid());
    // Copies, stale versions and poison are each dead-lettered with their own reason (copied before terminated).
    const finalRound = {
      duplicates: delta('dead-lettered REPLAYED', before.replayed, after.replayed, final.duplicates),
      stale: delta('dead-lettered STALE_VERSION', before.stale, after.stale, final.staleCopies),
      poison: delta('dead-lettered poison', before.poison, after.poison, final.poison),
    };
    log(`quiet after ${(quietMs / 1000).toFixed(1)} s; reconciling`);

    // ---- reconcile ----
    const storeMismatches: string[] = [];
    const resolved = await resolveUnknowns(world, http, urls, storeMismatches);
    await checkStores(world, http, urls, storeMismatches);
    const streams = await checkStreams(backends);
    const sets = await checkEffectiveSets(world, http, urls['sync-agent']);
    await metrics.stop();
    const readiness = await judgeReadiness(backends, recorder, poller);

    const report = buildReport({
      options,
      recorder,
      world,
      windows: nemesis.windows,
      records: nemesis.records,
      crashes: nemesis.crashes,
      metrics,
      injected: { ...injector.counts },
      finalRound,
      resolved,
      storeMismatches,
      streams,
      sets,
      quietMs,
      bus: { mode: options.bus, nodes: bus.nodes.length, replicas },
      readiness,
      redeliveries: await redeliveries(backends),
      serviceErrors: system
        .logs()
        .split('\n')
        .filter((line) => /\bERROR\b/.test(line))
        // The HTTP layer's own errors (the cause of a 500) first, then the rest.
        .sort((a, b) => Number(b.includes('[HTTP]')) - Number(a.includes('[HTTP]')))
        .slice(0, 50),
    });
    return report;
  } finally {
    log('tearing down: services, NATS, PostgreSQL, working directory');
    await poller?.stop().catch(() => undefined);
    await metrics?.stop().catch(() => undefined);
    await injector?.close().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    if (system) await Promise.all(SERVICES.map(({ name }) => system!.kill(name, 'SIGTERM', 10_000).catch(() => undefined)));
    await bus?.dispose().catch(() => undefined);
    await postgres?.dispose().catch(() => undefined);
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Calls `read` until it resolves (a cluster elects stream leaders a moment after the stream is made). */
async function eventuallyValue<T>(read: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await sleep(250);
    }
  }
}

/** The readiness oracle over the run: the poller's answers, the acknowledged writes, the stores and the inbox. */
async function judgeReadiness(backends: Backends, recorder: Recorder, poller: ReadinessPoller): Promise<ReadinessSummary> {
  const writes: AckedWrite[] = recorder.observations
    .filter((o) => o.write && o.reply.outcome === 'ok' && o.units.length > 0)
    .map((o) => ({
      op: o.op,
      units: o.units,
      correlationId: o.reply.correlationId,
      ackTick: o.reply.endedTick,
      ackAt: o.reply.endedAt,
    }));
  const facts = await readReadinessFacts(backends);
  const verdict = checkReadiness({ answers: poller.answers, writes, produced: facts.produced, inbox: facts.inbox });
  return {
    ...verdict,
    polls: { ...poller.counts },
    gapCodes: Object.fromEntries([...poller.gapCodes].sort()),
    acknowledgedWrites: writes.length,
    appliedAtSource: facts.appliedAtSource,
  };
}

function finalCounters(metrics: MetricsWatcher, pid: number | undefined) {
  const letters = (labels: string[] = []) =>
    metrics.current('sync-agent', pid, 'ha_license_sync_dead_lettered_total', labels) ?? 0;
  const replayed = letters(['reason="REPLAYED"']);
  const stale = letters(['reason="STALE_VERSION"']);
  return { replayed, stale, poison: letters() - replayed - stale };
}

/** "+n of m injected" from two readings of a counter; a counter not exposed reads "n/a (metric not exposed)". */
function delta(what: string, before: number, after: number, injected: number): string {
  const counted = after - before;
  return `${counted} counted as ${what} — ${injected} injected${counted >= injected ? '' : ' (FEWER)'}`;
}

/** Deliveries beyond the first of the sync agent's two durables (consumer sequence minus stream sequence). */
async function redeliveries(backends: Backends): Promise<number | null> {
  try {
    const jsm = await backends.jsm();
    let total = 0;
    for (const source of ['pairing', 'licensing'] as const) {
      const stream = backends.names.stream(source);
      const info = await jsm.consumers.info(stream, 'sync-agent');
      const { state } = await jsm.streams.info(stream);
      total += info.delivered.consumer_seq - (info.delivered.stream_seq - state.first_seq + 1);
    }
    return total;
  } catch {
    return null;
  }
}

function emptyCounts(): RequestCounts {
  return { ok: 0, failed: 0, indeterminate: 0, refused: 0 };
}

function tally(recorder: Recorder): RequestCounts {
  const t = emptyCounts();
  for (const o of recorder.observations) t[o.reply.outcome]++;
  return t;
}

const overlaps = (w: DownWindow, r: Reply) => r.startedAt < w.to && r.endedAt > w.from;

interface ReportInput {
  readonly options: ChaosOptions;
  readonly recorder: Recorder;
  readonly world: World;
  readonly windows: readonly DownWindow[];
  readonly records: readonly FaultRecord[];
  readonly crashes: readonly string[];
  readonly metrics: MetricsWatcher;
  readonly injected: ChaosReport['injected'];
  readonly finalRound: ChaosReport['finalRound'];
  readonly resolved: ChaosReport['resolved'];
  readonly storeMismatches: string[];
  readonly streams: { missing: string[]; counts: Record<string, number> };
  readonly sets: { missing: string[]; extra: string[]; checked: number };
  readonly quietMs: number;
  readonly bus: ChaosReport['bus'];
  readonly readiness: ReadinessSummary;
  readonly redeliveries: number | null;
  readonly serviceErrors: readonly string[];
}

function buildReport(input: ReportInput): ChaosReport {
  const { recorder, windows, records, metrics } = input;
  const requests: Record<string, RequestCounts> = {};
  const totals = emptyCounts();
  let hung = 0;
  let nonProblemErrors = 0;
  let non503ServerErrors = 0;
  const non503 = new Map<string, number>();
  const failures: string[] = [];
  for (const { service, op, reply } of recorder.observations) {
    const counts = (requests[op] ??= emptyCounts());
    counts[reply.outcome]++;
    totals[reply.outcome]++;
    // No answer within the deadline while the service itself was running: it hung.
    if (reply.timedOut && !windows.some((w) => w.target === service && overlaps(w, reply))) hung++;
    if (reply.outcome === 'failed' && !reply.problem) nonProblemErrors++;
    if (reply.outcome === 'failed' && reply.status >= 500 && !(reply.status === 503 && reply.problem)) {
      non503ServerErrors++;
      const key = `${service} ${op} → ${reply.status} ${reply.code ?? '(no code)'}`;
      non503.set(key, (non503.get(key) ?? 0) + 1);
    }
  }
  const faults: FaultSummary[] = records.map((record) => {
    const window = record.window;
    let whileDown: FaultSummary['whileDown'] = null;
    if (record.fault.kind !== 'service' && window) {
      whileDown = { problem503: 0, answered: 0, otherServerError: 0 };
      for (const { reply } of recorder.observations) {
        if (!overlaps(window, reply) || reply.status === 0) continue;
        if (reply.status === 503 && reply.problem) whileDown.problem503++;
        else if (reply.status >= 500) whileDown.otherServerError++;
        else whileDown.answered++;
      }
    }
    return {
      label: record.label,
      convergeMs: record.convergeMs,
      convergePhasesMs: record.convergePhasesMs ?? null,
      whileDown,
      detail: record.detail ?? null,
      error: record.error ?? null,
    };
  });

  const agent = (name: string, labels: string[] = []) => metrics.total('sync-agent', name, labels);
  const published = ['pairing', 'licensing', 'sync-agent'].map((s) =>
    metrics.total(s as ServiceName, 'ha_license_sync_outbox_events_published_total'),
  );
  const report: Omit<ChaosReport, 'failures'> = {
    seed: input.options.seed,
    seconds: input.options.seconds,
    bus: input.bus,
    requests,
    totals,
    world: input.world.counts,
    eventsInStores: input.streams.counts,
    eventsPublished: published.every((p) => p === null) ? null : published.reduce<number>((a, b) => a + (b ?? 0), 0),
    redeliveries: input.redeliveries,
    redeliveredAbsorbed: agent('ha_license_sync_consumer_events_total', ['outcome="redelivered"']),
    replaysDeadLettered: agent('ha_license_sync_dead_lettered_total', ['reason="REPLAYED"']),
    staleDeadLettered: agent('ha_license_sync_dead_lettered_total', ['reason="STALE_VERSION"']),
    poisonRejected: agent('ha_license_sync_consumer_events_total', ['outcome="rejected"']),
    deadLettered: agent('ha_license_sync_dead_lettered_total'),
    injected: input.injected,
    finalRound: input.finalRound,
    faults,
    faultCounts: countFaults(records.map((r) => r.fault)),
    readiness: input.readiness,
    resolved: input.resolved,
    storeMismatches: input.storeMismatches,
    notOnStream: input.streams.missing,
    missing: input.sets.missing,
    extra: input.sets.extra,
    productsChecked: input.sets.checked,
    hung,
    nonProblemErrors,
    non503ServerErrors,
    quietMs: input.quietMs,
    serviceErrors: input.serviceErrors,
    non503Examples: [...non503].map(([key, n]) => `${key} ×${n}`),
    uncleanExitLogs: records.filter((r) => r.logTail).map((r) => `${r.label}:\n${r.logTail}`),
  };
  if (report.missing.length > 0) failures.push(`${report.missing.length} missing in effective sets`);
  if (report.extra.length > 0) failures.push(`${report.extra.length} extra in effective sets`);
  if (report.storeMismatches.length > 0) failures.push(`${report.storeMismatches.length} store mismatches`);
  if (report.notOnStream.length > 0) failures.push(`${report.notOnStream.length} stored events not on their stream`);
  if (hung > 0) failures.push(`${hung} requests hung (no answer within ${input.options.requestTimeoutMs} ms)`);
  if (nonProblemErrors > 0) failures.push(`${nonProblemErrors} error answers that were not problem+json`);
  if (non503ServerErrors > 0) failures.push(`${non503ServerErrors} server errors other than 503 problem+json`);
  const { readiness } = report;
  if (readiness.violations.length > 0)
    failures.push(
      `${readiness.violations.length} readiness answers said ready while an acknowledged write on the pair was not applied`,
    );
  if (readiness.readyChecked === 0)
    failures.push('the readiness oracle checked no ready answer (no pair was ever reported ready after a write)');
  if (readiness.writesWithoutEvents.length > 0)
    failures.push(`${readiness.writesWithoutEvents.length} acknowledged writes without an event in their producer's store`);
  for (const f of faults) if (f.error) failures.push(`${f.label}: ${f.error}`);
  for (const c of input.crashes) failures.push(c);
  for (const [name, text] of Object.entries(input.finalRound))
    if (text.includes('FEWER')) failures.push(`final round ${name}: ${text}`);
  return { ...report, failures };
}

/** The nemesis's tally in words: power losses, node kills and partitions first. */
export function describeCounts(c: FaultCounts): string {
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  return [
    `${n(c.powerLosses + c.nodePowerLosses, 'power loss', 'power losses')} (${c.powerLosses} of the whole bus, ${c.nodePowerLosses} of one node)`,
    n(c.nodeKills, 'node kill'),
    n(c.partitions, 'partition'),
    `${n(c.serviceKills, 'service kill -9', 'service kill -9s')}, ${n(c.serviceStops, 'SIGTERM')}`,
    `NATS ${n(c.natsRestarts, 'restart')}, ${n(c.natsKills, 'kill -9', 'kill -9s')}, ${n(c.natsOutages, 'outage')}`,
    `PostgreSQL ${n(c.postgresCrashes, 'crash', 'crashes')}, ${n(c.postgresRestarts, 'fast restart')}`,
  ].join('; ');
}

/** The report as the table `npm run chaos` prints. */
export function formatReport(report: ChaosReport): string {
  const lines: string[] = [];
  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const na = (v: number | null, why = 'n/a (metric not exposed)') => (v === null ? why : String(v));
  const bus =
    report.bus.mode === 'cluster'
      ? `NATS: ${report.bus.nodes}-node JetStream cluster, streams with ${Math.min(...Object.values(report.bus.replicas))} replicas`
      : 'NATS: one nats-server';
  lines.push('', `Chaos report — ${report.seconds} s, seed ${report.seed}, ${bus}`, '');
  lines.push(`${'requests'.padEnd(18)}${pad('ok', 8)}${pad('failed', 8)}${pad('indeterminate', 15)}${pad('(refused)', 11)}`);
  for (const [op, c] of Object.entries(report.requests).sort())
    lines.push(
      `${op.padEnd(18)}${pad(c.ok, 8)}${pad(c.failed, 8)}${pad(c.indeterminate + c.refused, 15)}${pad(`(${c.refused})`, 11)}`,
    );
  const t = report.totals;
  lines.push(
    `${'total'.padEnd(18)}${pad(t.ok, 8)}${pad(t.failed, 8)}${pad(t.indeterminate + t.refused, 15)}${pad(`(${t.refused})`, 11)}`,
    '',
  );
  const w = report.world;
  const rows: [string, string][] = [
    ['state made', `${w.products} products, ${w.pairs} pairs (${w.activePairs} active), ${w.licenses} licenses`],
    [
      'events in stores',
      Object.entries(report.eventsInStores)
        .map(([s, n]) => `${s} ${n}`)
        .join(', '),
    ],
    ['events published', `${na(report.eventsPublished)} (relay PubAcks, all processes; republished rounds count again)`],
    ['redeliveries', `${na(report.redeliveries, 'n/a')} (sync agent's durable consumers)`],
    ['redelivered', `${na(report.redeliveredAbsorbed)} (the message that applied an event, again: acknowledged)`],
    ['replays', `${na(report.replaysDeadLettered)} dead-lettered REPLAYED (copies injected: ${report.injected.duplicates})`],
    [
      'stale',
      `${na(report.staleDeadLettered)} dead-lettered STALE_VERSION (old events re-published late: ${report.injected.staleCopies})`,
    ],
    [
      'rejected',
      `${na(report.poisonRejected)} in all; dead-lettered ${na(report.deadLettered)} in all (poison injected: ${report.injected.poison})`,
    ],
    ['last round', `${report.finalRound.duplicates}; ${report.finalRound.stale}; ${report.finalRound.poison}`],
    ['unknown outcomes', `${report.resolved.tookEffect} took effect, ${report.resolved.didNot} did not (read back after quiet)`],
    ['quiet after', `${(report.quietMs / 1000).toFixed(1)} s`],
  ];
  for (const [k, v] of rows) lines.push(`${k.padEnd(20)}${v}`);
  const steps = ['healthy', 'granted', 'relayed', 'applied'].map((step) => pad(step, 9)).join('');
  lines.push('', `${'fault'.padEnd(34)}${pad('converged after', 16)}${steps}  while down`);
  // Rounded to a tenth before printing, so that an event stored a few ms before its 201 arrived shows 0.0, not -0.0.
  const seconds = (ms: number | null) => pad(ms === null ? '?' : `${(Math.round(ms / 100) / 10).toFixed(1)} s`, 9);
  for (const f of report.faults) {
    const converged = f.convergeMs === null ? 'never' : `${(f.convergeMs / 1000).toFixed(1)} s`;
    // Each step on its own: every service healthy, the probe grant acknowledged, its event stored on the licensing
    // stream (the relay's part; '?' when the stream was not seen holding it), then applied by the sync agent.
    const p = f.convergeMs === null ? null : f.convergePhasesMs;
    const split = p
      ? [
          p.healthy,
          p.acknowledged - p.healthy,
          p.stored === null ? null : p.stored - p.acknowledged,
          p.stored === null ? null : f.convergeMs! - p.stored,
        ]
          .map(seconds)
          .join('')
      : pad('', 36);
    const d = f.whileDown;
    const down = d ? `${d.problem503}× 503 problem+json, ${d.answered} answered, ${d.otherServerError} other 5xx` : '';
    lines.push(`${f.label.padEnd(34)}${pad(converged, 16)}${split}  ${down}${f.error ? `  ! ${f.error}` : ''}`);
    if (f.detail) lines.push(`  └ ${f.detail}`);
  }
  lines.push('', `${'nemesis'.padEnd(20)}${describeCounts(report.faultCounts)}`);
  const r = report.readiness;
  const gaps = Object.entries(r.gapCodes)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  lines.push(
    '',
    `${'readiness'.padEnd(20)}${r.answers} answers on ${r.pairs} pairs, ${r.ready} ready; ` +
      `${r.polls.notFound} × 404 (pair not seen yet), ${r.polls.unavailable} × 503 or no answer, ${r.polls.other} other`,
    `${'  blocking gaps'.padEnd(20)}${gaps || 'none'}`,
    `${'  checked'.padEnd(20)}${r.readyChecked} ready answers against ${r.eventsChecked} events of the ${r.acknowledgedWrites} acknowledged writes ` +
      `on their units acknowledged before each request was sent`,
    `${''.padEnd(20)}applied = the sync agent's inbox row of the event (or a later version of its stream), at its ${r.appliedAtSource}; ` +
      `a violation = applied after the answer arrived, or never; ${r.raced} applied while the request was in flight (not counted)`,
    '',
  );
  lines.push(`${'products checked'.padEnd(20)}${report.productsChecked}`);
  lines.push(`${'missing'.padEnd(20)}${report.missing.length}`);
  lines.push(`${'extra'.padEnd(20)}${report.extra.length}`);
  lines.push(`${'readiness violations'.padEnd(20)}${report.readiness.violations.length}`);
  lines.push(`${'store mismatches'.padEnd(20)}${report.storeMismatches.length}`);
  lines.push(`${'not on stream'.padEnd(20)}${report.notOnStream.length}`);
  lines.push(`${'hung requests'.padEnd(20)}${report.hung}`);
  lines.push(`${'non-problem errors'.padEnd(20)}${report.nonProblemErrors}`);
  lines.push(`${'non-503 5xx'.padEnd(20)}${report.non503ServerErrors}`);
  for (const [title, items] of [
    ['missing', report.missing],
    ['extra', report.extra],
    ['readiness violations', report.readiness.violations.map(describeViolation)],
    ['acknowledged writes without events', report.readiness.writesWithoutEvents],
    ['store mismatches', report.storeMismatches],
    ['not on stream', report.notOnStream],
    ['non-503 5xx', report.non503Examples],
    ['service ERROR log lines', report.serviceErrors],
    ['output of processes that did not exit cleanly on SIGTERM', report.uncleanExitLogs],
  ] as const) {
    if (items.length > 0) lines.push('', `${title} (first 20):`, ...items.slice(0, 20).map((i) => `  ${i}`));
  }
  lines.push(
    '',
    report.failures.length === 0 ? 'RESULT: PASS' : `RESULT: FAIL\n${report.failures.map((f) => `  - ${f}`).join('\n')}`,
  );
  return lines.join('\n');
}
