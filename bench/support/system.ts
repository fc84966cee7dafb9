/**
 * The three services running together in one namespace of their own, with `pairs` HA pairs registered over
 * HTTP (the way an operator would), for the end-to-end measurements; and a watcher of the sync agent's
 * EffectiveLicensesChanged that times when a Secondary's effective set first shows a license.
 */
import {
  BASE_OS_SKUS,
  LICENSE_CATALOG,
  STATEFUL_SYNC_SKU,
  busNames,
  type BusNames,
  type EffectiveLicensesChangedV1,
  type EntitlementChangedV1,
} from '#shared/contracts';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PG, REPO_ROOT, RUN_ID, namespaceFor } from './config.js';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuMeter } from './probe.js';
import { summarizeCpuProfile, type CpuProfileSummary } from './profile.js';
import type { BenchContext } from './context.js';
import { consumerProgress, ensureSourceStreams, streamMessageCount, syncAgentDurables } from './infra.js';
import { httpRequest, inParallel, postJson } from './http.js';
import { startService, type RunningService } from './processes.js';
import { SERVICES, parsePrometheus, schemaOf, sumOf } from '#shared/tools';
import { sleep } from './stats.js';

export interface HaPair {
  readonly primary: string;
  readonly secondary: string;
}

export interface RunningSystem {
  readonly names: BusNames;
  readonly pairing: RunningService;
  readonly licensing: RunningService;
  readonly syncAgent: RunningService;
  readonly pairs: readonly HaPair[];
  /** A meter of the CPU the three services, their backends, nats-server and the load generator use. */
  cpuMeter(): CpuMeter;
  stop(): Promise<void>;
  /** After stop(): the CPU profiles of the services run under `--cpu-prof` (BENCH_CPU_PROF), by service. */
  cpuProfiles(): Record<string, CpuProfileSummary>;
}

/** The services BENCH_CPU_PROF names (comma-separated), run under `node --cpu-prof`. */
const PROFILED = new Set(
  (process.env.BENCH_CPU_PROF ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

/** What each Primary holds before the measured grants: a base OS license, a support subscription, every security service. */
const STOCKED_SKUS = [
  BASE_OS_SKUS[0]!,
  LICENSE_CATALOG.find((s) => s.category === 'support')!.sku,
  ...LICENSE_CATALOG.filter((s) => s.category === 'security-service').map((s) => s.sku),
];

const serialOf = (n: number) => n.toString(16).toUpperCase().padStart(12, '0');

export async function startSystem(ctx: BenchContext, pairCount: number): Promise<RunningSystem> {
  const namespace = namespaceFor('e2e');
  const names = busNames(namespace);
  await ensureSourceStreams(ctx.jsm, names);
  const started: RunningService[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.process.stop()));
  };
  try {
    for (const { name } of SERVICES) {
      const profileDir = join(REPO_ROOT, 'bench', 'logs', RUN_ID, `${name}-cpuprofile`);
      if (PROFILED.has(name)) mkdirSync(profileDir, { recursive: true });
      const nodeArgs = PROFILED.has(name) ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
      started.push(await startService(name, { namespace, schema: schemaOf(namespace, name), nodeArgs }));
    }
    const [pairing, licensing, syncAgent] = started as [RunningService, RunningService, RunningService];
    const base = 0x100000 + Math.floor(Math.random() * 0xffffff) * 0x10000;
    const pairs: HaPair[] = Array.from({ length: pairCount }, (_, i) => ({
      primary: serialOf(base + 2 * i),
      secondary: serialOf(base + 2 * i + 1),
    }));
    const registering = performance.now();
    await inParallel(pairs.length, 16, async (i) => {
      const pair = pairs[i]!;
      for (const serial of [pair.primary, pair.secondary]) {
        await postJson(`${pairing.url}/products`, {
          serial,
          model: 'NSA 2700',
          firmwareVersion: '7.0.1',
          accountId: `acct-${i % 97}`,
        });
      }
      await postJson(`${pairing.url}/pairs`, { primarySerial: pair.primary, secondarySerial: pair.secondary });
    });
    ctx.log(`system: ${pairs.length} pairs registered over HTTP in ${((performance.now() - registering) / 1000).toFixed(1)} s`);
    // Each Primary is stocked like an appliance in service before anything is measured: its base OS license, a
    // support subscription and every security service (STOCKED_SKUS). The measured grants then meet the steady
    // state (licensing knows the product, each set holds what a real one does), not a first grant per product,
    // which asks pairing about the product once, nor sets of one or two licenses.
    const stocking = performance.now();
    await inParallel(pairs.length, 16, async (i) => {
      for (const sku of STOCKED_SKUS) {
        await postJson(`${licensing.url}/products/${pairs[i]!.primary}/licenses`, {
          sku,
          expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
        });
      }
    });
    ctx.log(
      `system: ${pairs.length} Primaries stocked with ${STOCKED_SKUS.length} licenses each in ` +
        `${((performance.now() - stocking) / 1000).toFixed(1)} s`,
    );
    await waitUntilProjected(ctx, names, 3 * pairs.length, STOCKED_SKUS.length * pairs.length);
    const cpuMeter = () =>
      new CpuMeter(
        { pairing: pairing.process.pid, licensing: licensing.process.pid, 'sync-agent': syncAgent.process.pid },
        ctx.db,
        PG.database,
        'ha-license-sync',
      );
    const cpuProfiles = () => {
      const summaries: Record<string, CpuProfileSummary> = {};
      for (const name of PROFILED) {
        const dir = join(REPO_ROOT, 'bench', 'logs', RUN_ID, `${name}-cpuprofile`);
        const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (file) summaries[name] = summarizeCpuProfile(join(dir, file), 25);
      }
      return summaries;
    };
    return { names, pairing, licensing, syncAgent, pairs, cpuMeter, stop, cpuProfiles };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until `pairingEvents` and `licensingEvents` are on their streams and the sync agent has processed everything. */
async function waitUntilProjected(
  ctx: BenchContext,
  names: BusNames,
  pairingEvents: number,
  licensingEvents: number,
): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const pairing = await streamMessageCount(ctx.jsm, names.stream('pairing'));
    const licensing = await streamMessageCount(ctx.jsm, names.stream('licensing'));
    const total = pairing + licensing;
    const progress = await consumerProgress(ctx.jsm, syncAgentDurables(names), total);
    if (pairing >= pairingEvents && licensing >= licensingEvents && progress.processed >= total) return;
    if (Date.now() > deadline) throw new Error(`the sync agent did not catch up (${progress.processed}/${total})`);
    await sleep(100);
  }
}

/** The sync agent's projector so far, from its metrics: committed batches, their events and their seconds in all. */
export interface ProjectorTotals {
  readonly batches: number;
  readonly events: number;
  readonly seconds: number;
}

/** Reads ProjectorTotals off the sync agent's GET /metrics (its consumer `sync-agent`, not the dead-letter index). */
export async function projectorTotals(system: RunningSystem): Promise<ProjectorTotals> {
  const { status, body } = await httpRequest('GET', `${system.syncAgent.url}/metrics`);
  if (status !== 200) throw new Error(`the sync agent's /metrics answered ${status}`);
  const samples = parsePrometheus(body);
  const value = (series: string) => {
    const total = sumOf(samples, `ha_license_sync_${series}`, ['consumer="sync-agent"']);
    // The system is stocked before any run, so the projector has committed batches: a missing series is an error.
    if (total === null) throw new Error(`the sync agent's /metrics has no ${series} of its consumer "sync-agent"`);
    return total;
  };
  return {
    batches: value('consumer_batch_duration_seconds_count'),
    events: value('consumer_batch_events_sum'),
    seconds: value('consumer_batch_duration_seconds_sum'),
  };
}

const SHAREABLE_SKUS = LICENSE_CATALOG.filter((s) => s.shareable && s.sku !== STATEFUL_SYNC_SKU).map((s) => s.sku);

/** Grants a shareable license to a random Primary; resolves with the license id, the Secondary and the 201's time. */
export async function grantOnRandomPrimary(
  system: RunningSystem,
): Promise<{ ok: true; licenseId: string; secondary: string; at: number; ms: number } | { ok: false; status: number | string }> {
  const pair = system.pairs[Math.floor(Math.random() * system.pairs.length)]!;
  const sku = SHAREABLE_SKUS[Math.floor(Math.random() * SHAREABLE_SKUS.length)]!;
  const result = await httpRequest('POST', `${system.licensing.url}/products/${pair.primary}/licenses`, {
    sku,
    expiresAt: new Date(Date.now() + 365 * 86_400_000).toISOString(),
  });
  if (result.status !== 201) return { ok: false, status: result.status };
  const { licenseId } = JSON.parse(result.body) as { licenseId: string };
  return { ok: true, licenseId, secondary: pair.secondary, at: result.receivedAt, ms: result.ms };
}

/** One grant's propagation: in all, and split at the moment its EntitlementChanged reached the bus. */
export interface PropagationSample {
  /** 201 → the Secondary's EffectiveLicensesChanged listing the license. */
  readonly totalMs: number;
  /** 201 → the licensing relay's EntitlementChanged (negative when the relay beat the response). */
  readonly relayMs: number;
  /** EntitlementChanged → EffectiveLicensesChanged: consumer, projection, sync agent's relay. */
  readonly projectionMs: number;
}

/**
 * Times "the Secondary's effective set shows the license": subscribes (core NATS) to the sync agent's
 * EffectiveLicensesChanged and, for each license granted on a Primary, takes the receive time of the first
 * event whose Secondary set lists that license id as a source. Messages about Primaries are skipped by
 * subject, unparsed. If the event beats the 201 to this process the latency counts as 0. It also notes when
 * each grant's EntitlementChanged went by, to split the time between the licensing relay and the sync agent.
 */
export class PropagationWatcher {
  private readonly subscriptions: Subscription[] = [];
  private readonly secondaries: Set<string>;
  private readonly awaiting = new Map<string, number>();
  private readonly seenAt = new Map<string, number>();
  private readonly relayedAt = new Map<string, number>();
  private samples: PropagationSample[] = [];
  /** Licenses behind the Secondaries' sets seen since the last take (the sources of their entries): what each EffectiveLicensesChanged carried. */
  private setSizes = { sets: 0, licenses: 0, max: 0 };
  beforeResponse = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly system: RunningSystem,
  ) {
    this.secondaries = new Set(system.pairs.map((p) => p.secondary));
  }

  start(): void {
    const { names } = this.system;
    this.subscriptions.push(
      this.nc.subscribe(names.subjectsOfType('EntitlementChanged'), {
        callback: (error, msg) => {
          if (error) return;
          const now = performance.now();
          const envelope = msg.json<{ data: EntitlementChangedV1 }>();
          this.relayedAt.set(envelope.data.license.licenseId, now);
        },
      }),
      this.nc.subscribe(names.subjectsOfType('EffectiveLicensesChanged'), {
        callback: (error, msg) => {
          if (error) return;
          const now = performance.now();
          const serial = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
          if (!this.secondaries.has(serial)) return;
          const envelope = msg.json<{ data: EffectiveLicensesChangedV1 }>();
          const size = envelope.data.set.licenses.reduce((sum, license) => sum + license.sources.length, 0);
          this.setSizes.sets++;
          this.setSizes.licenses += size;
          this.setSizes.max = Math.max(this.setSizes.max, size);
          for (const license of envelope.data.set.licenses) {
            for (const source of license.sources) {
              if (source.from !== 'primary') continue;
              const granted = this.awaiting.get(source.licenseId);
              if (granted !== undefined) {
                this.record(source.licenseId, granted, now);
                this.awaiting.delete(source.licenseId);
              } else if (!this.seenAt.has(source.licenseId)) {
                this.seenAt.set(source.licenseId, now);
              }
            }
          }
        },
      }),
    );
  }

  private record(licenseId: string, granted: number, shown: number): void {
    const relayed = this.relayedAt.get(licenseId) ?? Number.NaN;
    this.relayedAt.delete(licenseId);
    this.samples.push({ totalMs: Math.max(0, shown - granted), relayMs: relayed - granted, projectionMs: shown - relayed });
  }

  /** A license whose 201 arrived at `at`. */
  expect(licenseId: string, at: number): void {
    const seen = this.seenAt.get(licenseId);
    if (seen !== undefined) {
      this.record(licenseId, at, seen);
      this.beforeResponse++;
      return;
    }
    this.awaiting.set(licenseId, at);
  }

  /** Waits (up to `timeoutMs`) for every expected license; returns the samples since the last take and how many never showed. */
  async take(
    timeoutMs = 15_000,
  ): Promise<{ samples: PropagationSample[]; lost: number; licensesPerSet: { mean: number; max: number } }> {
    const deadline = Date.now() + timeoutMs;
    while (this.awaiting.size > 0 && Date.now() < deadline) await sleep(20);
    const lost = this.awaiting.size;
    this.awaiting.clear();
    this.relayedAt.clear();
    const samples = this.samples;
    this.samples = [];
    const { sets, licenses, max } = this.setSizes;
    this.setSizes = { sets: 0, licenses: 0, max: 0 };
    return { samples, lost, licensesPerSet: { mean: sets === 0 ? 0 : Math.round((licenses / sets) * 10) / 10, max } };
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }
}
