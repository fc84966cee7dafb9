/**
 * The nemesis: on a schedule over the run, SIGTERM or kill -9 each service and start it again, restart NATS,
 * take NATS down for a while, cut the power of NATS (the store goes back to a copy taken a few seconds earlier:
 * what JetStream acknowledged but had not synced to disk is lost), kill or partition one node of a JetStream
 * cluster, and restart PostgreSQL (fast or immediate, i.e. a crash). The load keeps running throughout, so kills
 * land at random points of the pipeline (between commit and publish, publish and checkpoint, projection commit
 * and ack). After each fault the nemesis measures how long the system takes to converge again before it strikes
 * anew.
 */
import type { Random } from './load.js';
import type { ChaosBus, NatsNode } from './nats-bus.js';
import type { PrivatePostgres } from './private-postgres.js';
import type { RunningSystem } from '#shared/testing';
import type { ServiceName } from '#shared/tools';

/**
 * One fault. `nats` acts on every node of the bus at once; `power-loss` on every node (`node` null: the whole site
 * loses power) or on one; `node` on one node of a cluster (`partition`: SIGSTOP for `downMs`, then SIGCONT).
 */
export type Fault =
  | { readonly kind: 'service'; readonly service: ServiceName; readonly signal: 'SIGTERM' | 'SIGKILL' }
  | { readonly kind: 'nats'; readonly how: 'restart' | 'kill' | 'down'; readonly downMs: number }
  | { readonly kind: 'postgres'; readonly mode: 'fast' | 'immediate'; readonly downMs: number }
  | { readonly kind: 'power-loss'; readonly node: number | null; readonly tailMs: number }
  | { readonly kind: 'node'; readonly how: 'kill' | 'partition'; readonly node: number; readonly downMs: number };

/** Every kind of fault, as CHAOS_FAULTS names them. */
export const FAULT_KINDS = ['service', 'nats', 'postgres', 'power-loss', 'node'] as const satisfies readonly Fault['kind'][];

const nodeName = (index: number) => `n${index + 1}`;
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'service':
      return `${fault.signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM'} ${fault.service}`;
    case 'nats':
      return fault.how === 'down'
        ? `NATS down ${seconds(fault.downMs)}`
        : fault.how === 'kill'
          ? 'NATS kill -9 + restart'
          : 'NATS restart';
    case 'postgres':
      return `PostgreSQL ${fault.mode} stop${fault.downMs > 0 ? `, down ${seconds(fault.downMs)}` : ''} + start`;
    case 'power-loss':
      return `power loss of ${fault.node === null ? 'NATS' : `node ${nodeName(fault.node)}`}, last ${seconds(fault.tailMs)} lost`;
    case 'node':
      return fault.how === 'kill'
        ? `kill -9 node ${nodeName(fault.node)}, down ${seconds(fault.downMs)}`
        : `partition node ${nodeName(fault.node)} ${seconds(fault.downMs)}`;
    default: {
      const never: never = fault;
      return never;
    }
  }
}

/** How many faults of each kind a run inflicted, as the report counts them. */
export interface FaultCounts {
  serviceKills: number;
  serviceStops: number;
  natsRestarts: number;
  natsKills: number;
  natsOutages: number;
  /** Power losses of the whole bus (every node at once) and of one node of a cluster. */
  powerLosses: number;
  nodePowerLosses: number;
  nodeKills: number;
  partitions: number;
  postgresCrashes: number;
  postgresRestarts: number;
}

export function countFaults(faults: readonly Fault[]): FaultCounts {
  const counts: FaultCounts = {
    serviceKills: 0,
    serviceStops: 0,
    natsRestarts: 0,
    natsKills: 0,
    natsOutages: 0,
    powerLosses: 0,
    nodePowerLosses: 0,
    nodeKills: 0,
    partitions: 0,
    postgresCrashes: 0,
    postgresRestarts: 0,
  };
  for (const fault of faults) {
    switch (fault.kind) {
      case 'service':
        counts[fault.signal === 'SIGKILL' ? 'serviceKills' : 'serviceStops']++;
        break;
      case 'nats':
        counts[fault.how === 'down' ? 'natsOutages' : fault.how === 'kill' ? 'natsKills' : 'natsRestarts']++;
        break;
      case 'postgres':
        counts[fault.mode === 'immediate' ? 'postgresCrashes' : 'postgresRestarts']++;
        break;
      case 'power-loss':
        counts[fault.node === null ? 'powerLosses' : 'nodePowerLosses']++;
        break;
      case 'node':
        counts[fault.how === 'kill' ? 'nodeKills' : 'partitions']++;
        break;
      default: {
        const never: never = fault;
        throw new Error(`unknown fault ${JSON.stringify(never)}`);
      }
    }
  }
  return counts;
}

/** What a down window is of: a service, a dependency every service needs, or one node of the NATS cluster. */
export type Target = ServiceName | 'nats' | 'postgres' | 'nats-node';

export interface DownWindow {
  readonly target: Target;
  readonly from: number;
  to: number;
}

export interface FaultRecord {
  readonly fault: Fault;
  readonly label: string;
  readonly at: number;
  /** When the dependency or service was started again. */
  restoredAt: number | null;
  /** Milliseconds from restoredAt until the system had converged again; null if it did not. */
  convergeMs: number | null;
  convergePhasesMs?: ConvergePhasesMs;
  /** While the dependency (or node) was down: what requests made then are judged against. */
  window?: DownWindow;
  /** What the fault did that the label does not say (e.g. how many acknowledged messages a power loss took). */
  detail?: string;
  /** For SIGTERM: how the process exited (a clean exit is code 0 without a signal). */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  error?: string;
  /** The end of the stopped process's output when it did not exit cleanly. */
  logTail?: string;
}

/**
 * A convergence's steps, in milliseconds after the restore: until every service was healthy, the probe grant was
 * acknowledged, and its event was on the stream (null: not seen there).
 */
export interface ConvergePhasesMs {
  readonly healthy: number;
  readonly acknowledged: number;
  readonly stored: number | null;
}

/** The instants (Date.now()) a convergence passed its steps, up to the fresh write applied, where it ends. */
export interface ConvergencePhases {
  readonly healthyAt: number;
  readonly acknowledgedAt: number;
  /** When the write's event was stored on its stream (null when the convergence did not see it there). */
  readonly storedAt: number | null;
  readonly appliedAt: number;
}

export interface NemesisDeps {
  readonly system: RunningSystem;
  readonly bus: ChaosBus;
  readonly postgres: PrivatePostgres;
  readonly random: Random;
  /**
   * Waits until the system is healthy and a fresh write has reached the sync agent; throws after `timeoutMs`.
   * Says when it passed each step on the way.
   */
  readonly converge: (timeoutMs: number) => Promise<ConvergencePhases>;
  /** Each stream's last sequence now, or null when JetStream does not answer. */
  readonly lastSequences: () => Promise<Record<string, number> | null>;
  readonly log: (line: string) => void;
  readonly convergeTimeoutMs: number;
}

/** [min, max] lengths of the plan's outages and of the tail a power loss loses; `nodes` of the bus (1 or 3). */
export interface PlanSettings {
  readonly natsDownMs: readonly [number, number];
  readonly postgresDownMs: readonly [number, number];
  /** How long before the power loss the store was last synced: 2.9 syncs every 2 minutes, so below that. */
  readonly powerLossTailMs: readonly [number, number];
  readonly nodeDownMs: readonly [number, number];
  readonly nodes: number;
  /** Only these kinds (default all). */
  readonly kinds?: readonly Fault['kind'][];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One of each fault the bus allows, with its kind, in the order of the first round (new kinds early, so short runs reach them). */
function templates(random: Random, settings: PlanSettings): [Fault['kind'], () => Fault][] {
  const within = (range: readonly [number, number]) => random.int(range[0], range[1]);
  const cluster = settings.nodes >= 3;
  const node = () => random.int(0, settings.nodes - 1);
  const all: [Fault['kind'], () => Fault, boolean?][] = [
    ['service', () => ({ kind: 'service', service: 'sync-agent', signal: 'SIGKILL' })],
    ['power-loss', () => ({ kind: 'power-loss', node: null, tailMs: within(settings.powerLossTailMs) })],
    ['nats', () => ({ kind: 'nats', how: 'down', downMs: within(settings.natsDownMs) })],
    ['node', () => ({ kind: 'node', how: 'kill', node: node(), downMs: within(settings.nodeDownMs) }), cluster],
    ['service', () => ({ kind: 'service', service: 'licensing', signal: 'SIGTERM' })],
    ['postgres', () => ({ kind: 'postgres', mode: 'immediate', downMs: within(settings.postgresDownMs) })],
    ['node', () => ({ kind: 'node', how: 'partition', node: node(), downMs: within(settings.nodeDownMs) }), cluster],
    ['service', () => ({ kind: 'service', service: 'pairing', signal: 'SIGKILL' })],
    ['service', () => ({ kind: 'service', service: 'sync-agent', signal: 'SIGTERM' })],
    ['nats', () => ({ kind: 'nats', how: 'kill', downMs: 0 })],
    ['power-loss', () => ({ kind: 'power-loss', node: node(), tailMs: within(settings.powerLossTailMs) }), cluster],
    ['service', () => ({ kind: 'service', service: 'licensing', signal: 'SIGKILL' })],
    ['postgres', () => ({ kind: 'postgres', mode: 'fast', downMs: 0 })],
    ['service', () => ({ kind: 'service', service: 'pairing', signal: 'SIGTERM' })],
    ['nats', () => ({ kind: 'nats', how: 'restart', downMs: 0 })],
  ];
  return all
    .filter(([kind, , allowed]) => allowed !== false && (!settings.kinds || settings.kinds.includes(kind)))
    .map(([kind, make]) => [kind, make]);
}

/**
 * The order faults come in: first every fault the bus allows once (so even a short run covers them all: that
 * many is the run's minimum, see faultsPerRound), then the same again in a random order, round after round,
 * until `count`. Faults of a kind not in `settings.kinds` are left out.
 */
export function faultPlan(random: Random, count: number, settings: PlanSettings): Fault[] {
  const makers = templates(random, settings).map(([, make]) => make);
  const plan = makers.map((make) => make());
  if (plan.length === 0) return [];
  while (plan.length < count) {
    const round = makers.map((make) => make());
    for (let i = round.length - 1; i > 0; i--) {
      const j = random.int(0, i);
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    plan.push(...round);
  }
  return plan.slice(0, count);
}

/** How many faults one round of the plan has: every fault the bus allows, once. */
export function faultsPerRound(settings: PlanSettings): number {
  const unused = { int: () => 0 } as unknown as Random;
  return templates(unused, settings).length;
}

export class Nemesis {
  readonly records: FaultRecord[] = [];
  readonly windows: DownWindow[] = [];
  /** Services that exited when the nemesis had not stopped them. */
  readonly crashes: string[] = [];

  constructor(private readonly deps: NemesisDeps) {}

  /**
   * Inflicts faults from `plan` with pauses of `gapMs` [min, max] between them, until `until` or `signal` aborts,
   * but at least `minFaults` of them (so a short run on a slow machine still sees every kind).
   */
  async run(
    plan: readonly Fault[],
    until: number,
    gapMs: readonly [number, number],
    signal: AbortSignal,
    minFaults = 0,
  ): Promise<void> {
    for (const fault of plan) {
      await sleep(this.deps.random.int(gapMs[0], gapMs[1]));
      if ((Date.now() >= until && this.records.length >= minFaults) || signal.aborted) return;
      await this.inflict(fault);
    }
  }

  /** Restarts any service that exited on its own (recorded as a crash). */
  reviveCrashed(): void {
    const { system } = this.deps;
    for (const name of ['pairing', 'licensing', 'sync-agent'] as const) {
      const proc = system.processes[name];
      if (!proc.hasExited) continue;
      this.crashes.push(`${name} exited by itself (${proc.child.exitCode ?? proc.child.signalCode})`);
      // What it said last is why: shown here, since the restarted process's output replaces it.
      this.deps.log(`  ! ${name} exited by itself; starting it again. Its last output:\n${proc.tail(30)}`);
      system.spawn(name);
    }
  }

  async inflict(fault: Fault): Promise<FaultRecord> {
    const { system, bus, postgres, random, log } = this.deps;
    this.reviveCrashed();
    const record: FaultRecord = { fault, label: describeFault(fault), at: Date.now(), restoredAt: null, convergeMs: null };
    this.records.push(record);
    log(`  nemesis: ${record.label}`);
    let window: DownWindow | undefined;
    const open = (target: Target) => {
      window = { target, from: Date.now(), to: Number.POSITIVE_INFINITY };
      record.window = window;
      this.windows.push(window);
      return window;
    };
    try {
      switch (fault.kind) {
        case 'service': {
          open(fault.service);
          record.exit = await system.kill(fault.service, fault.signal, 20_000);
          if (fault.signal === 'SIGTERM' && (record.exit.code !== 0 || record.exit.signal !== null)) {
            record.error = `did not exit cleanly on SIGTERM (${record.exit.code ?? record.exit.signal})`;
            record.logTail = system.processes[fault.service].log.slice(-4000);
          }
          await sleep(random.int(0, 1000));
          system.spawn(fault.service);
          record.restoredAt = Date.now();
          break;
        }
        case 'nats': {
          const down = open('nats');
          await bus.stopAll(fault.how === 'kill' ? 'SIGKILL' : 'SIGTERM');
          await sleep(fault.downMs);
          await bus.startAll();
          record.restoredAt = down.to = Date.now();
          break;
        }
        case 'postgres': {
          const down = open('postgres');
          await postgres.stop(fault.mode);
          await sleep(fault.downMs);
          await postgres.start();
          record.restoredAt = down.to = Date.now();
          break;
        }
        case 'power-loss': {
          const nodes = fault.node === null ? [...bus.nodes] : [this.node(fault.node)];
          // The copy is what reached the disk; everything acknowledged after it is the unsynced tail.
          await bus.snapshot(nodes);
          const synced = await this.deps.lastSequences();
          await sleep(fault.tailMs);
          const acknowledged = await this.deps.lastSequences();
          const down = open(fault.node === null ? 'nats' : 'nats-node');
          await Promise.all(nodes.map((n) => n.kill()));
          for (const node of nodes) await node.restore();
          await Promise.all(nodes.map((n) => n.start()));
          record.restoredAt = down.to = Date.now();
          record.detail = tailDetail(synced, acknowledged, fault.node === null ? null : nodes[0]!.name);
          log(`    ${record.detail}`);
          break;
        }
        case 'node': {
          const node = this.node(fault.node);
          const down = open('nats-node');
          if (fault.how === 'kill') await node.kill();
          else node.pause();
          await sleep(fault.downMs);
          if (fault.how === 'kill') await node.start();
          else node.resume();
          record.restoredAt = down.to = Date.now();
          break;
        }
        default: {
          const never: never = fault;
          throw new Error(`unknown fault ${JSON.stringify(never)}`);
        }
      }
    } catch (error) {
      record.error = `could not inflict: ${(error as Error).message}`;
      log(`  ! ${record.label}: ${record.error}`);
      return record;
    }
    try {
      const phases = await this.deps.converge(this.deps.convergeTimeoutMs);
      const from = record.restoredAt ?? record.at;
      record.convergeMs = phases.appliedAt - from;
      record.convergePhasesMs = {
        healthy: phases.healthyAt - from,
        acknowledged: phases.acknowledgedAt - from,
        stored: phases.storedAt === null ? null : phases.storedAt - from,
      };
      log(`    converged ${(record.convergeMs / 1000).toFixed(1)} s after ${record.label}`);
    } catch (error) {
      record.error = `${record.error ? `${record.error}; ` : ''}did not converge: ${(error as Error).message.split('\n')[0]}`;
      log(`  ! ${record.label}: ${record.error}`);
    } finally {
      // A service's down window lasts until it is healthy again.
      if (window && window.to === Number.POSITIVE_INFINITY) window.to = Date.now();
    }
    return record;
  }

  private node(index: number): NatsNode {
    const node = this.deps.bus.nodes[index];
    if (!node) throw new Error(`the bus has no node ${index + 1}`);
    return node;
  }
}

/**
 * What a power loss took: the messages the streams acknowledged after the copy (a lower bound, as the copy was
 * read a moment before `synced`). On one node of a cluster they are lost from that node only; the others hold them.
 */
export function tailDetail(
  synced: Readonly<Record<string, number>> | null,
  acknowledged: Readonly<Record<string, number>> | null,
  node: string | null,
): string {
  if (!synced || !acknowledged) return 'tail not measured (JetStream did not answer)';
  const parts = Object.keys(acknowledged)
    .sort()
    .map((stream) => [stream, (acknowledged[stream] ?? 0) - (synced[stream] ?? 0)] as const)
    .filter(([, n]) => n > 0);
  const total = parts.reduce((sum, [, n]) => sum + n, 0);
  const where = node === null ? 'lost' : `lost on ${node} (its peers hold them)`;
  return `${total} acknowledged messages in the unsynced tail ${where}${parts.length > 0 ? `: ${parts.map(([s, n]) => `${s} ${n}`).join(', ')}` : ''}`;
}
