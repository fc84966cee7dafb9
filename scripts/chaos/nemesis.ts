/**
 * The nemesis: on a schedule over the run, SIGTERM or kill -9 each service and start it again, restart NATS,
 * take NATS down for a while, and restart PostgreSQL (fast or immediate, i.e. a crash). The load keeps running
 * throughout, so kills land at random points of the pipeline (between commit and publish, publish and
 * checkpoint, projection commit and ack). After each fault the nemesis measures how long the system takes to
 * converge again before it strikes anew.
 */
import type { PrivateNatsServer } from '#shared/testing';
import type { Random } from './load.js';
import type { PrivatePostgres } from './private-postgres.js';
import type { RunningSystem, ServiceName } from './services.js';

export type Fault =
  | { readonly kind: 'service'; readonly service: ServiceName; readonly signal: 'SIGTERM' | 'SIGKILL' }
  | { readonly kind: 'nats'; readonly how: 'restart' | 'kill' | 'down'; readonly downMs: number }
  | { readonly kind: 'postgres'; readonly mode: 'fast' | 'immediate'; readonly downMs: number };

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'service':
      return `${fault.signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM'} ${fault.service}`;
    case 'nats':
      return fault.how === 'down'
        ? `NATS down ${Math.round(fault.downMs / 1000)} s`
        : fault.how === 'kill'
          ? 'NATS kill -9 + restart'
          : 'NATS restart';
    case 'postgres':
      return `PostgreSQL ${fault.mode} stop${fault.downMs > 0 ? `, down ${Math.round(fault.downMs / 1000)} s` : ''} + start`;
    default: {
      const never: never = fault;
      return never;
    }
  }
}

/** What the target of a down window is: a service, or a dependency every service needs. */
export type Target = ServiceName | 'nats' | 'postgres';

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
  /** For SIGTERM: how the process exited (a clean exit is code 0 without a signal). */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  error?: string;
  /** The end of the stopped process's output when it did not exit cleanly. */
  logTail?: string;
}

export interface NemesisDeps {
  readonly system: RunningSystem;
  readonly nats: PrivateNatsServer;
  readonly postgres: PrivatePostgres;
  readonly random: Random;
  /** Waits until the system is healthy and a fresh write has reached the sync agent; throws after `timeoutMs`. */
  readonly converge: (timeoutMs: number) => Promise<void>;
  readonly log: (line: string) => void;
  readonly convergeTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The order faults come in: first every kind once (so even a short run covers them), then the same kinds again
 * in a random order, until the run ends. `natsDownMs` and `postgresDownMs` are [min, max] outage lengths.
 */
export function faultPlan(
  random: Random,
  count: number,
  natsDownMs: readonly [number, number],
  postgresDownMs: readonly [number, number],
): Fault[] {
  const down = (range: readonly [number, number]) => random.int(range[0], range[1]);
  const kinds: (() => Fault)[] = [
    () => ({ kind: 'service', service: 'sync-agent', signal: 'SIGKILL' }),
    () => ({ kind: 'nats', how: 'down', downMs: down(natsDownMs) }),
    () => ({ kind: 'service', service: 'licensing', signal: 'SIGTERM' }),
    () => ({ kind: 'postgres', mode: 'immediate', downMs: down(postgresDownMs) }),
    () => ({ kind: 'service', service: 'pairing', signal: 'SIGKILL' }),
    () => ({ kind: 'service', service: 'sync-agent', signal: 'SIGTERM' }),
    () => ({ kind: 'nats', how: 'kill', downMs: 0 }),
    () => ({ kind: 'service', service: 'licensing', signal: 'SIGKILL' }),
    () => ({ kind: 'postgres', mode: 'fast', downMs: 0 }),
    () => ({ kind: 'service', service: 'pairing', signal: 'SIGTERM' }),
    () => ({ kind: 'nats', how: 'restart', downMs: 0 }),
  ];
  const plan = kinds.map((k) => k());
  while (plan.length < count) {
    const round = kinds.map((k) => k());
    for (let i = round.length - 1; i > 0; i--) {
      const j = random.int(0, i);
      [round[i], round[j]] = [round[j]!, round[i]!];
    }
    plan.push(...round);
  }
  return plan.slice(0, count);
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
      this.deps.log(`  ! ${name} exited by itself; starting it again`);
      system.spawn(name);
    }
  }

  async inflict(fault: Fault): Promise<FaultRecord> {
    const { system, nats, postgres, random, log } = this.deps;
    this.reviveCrashed();
    const record: FaultRecord = { fault, label: describeFault(fault), at: Date.now(), restoredAt: null, convergeMs: null };
    this.records.push(record);
    log(`  nemesis: ${record.label}`);
    let window: DownWindow;
    try {
      switch (fault.kind) {
        case 'service': {
          window = { target: fault.service, from: Date.now(), to: Number.POSITIVE_INFINITY };
          this.windows.push(window);
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
          window = { target: 'nats', from: Date.now(), to: Number.POSITIVE_INFINITY };
          this.windows.push(window);
          if (fault.how === 'kill') await nats.kill();
          else await nats.stop();
          await sleep(fault.downMs);
          await nats.start();
          record.restoredAt = window.to = Date.now();
          break;
        }
        case 'postgres': {
          window = { target: 'postgres', from: Date.now(), to: Number.POSITIVE_INFINITY };
          this.windows.push(window);
          await postgres.stop(fault.mode);
          await sleep(fault.downMs);
          await postgres.start();
          record.restoredAt = window.to = Date.now();
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
      await this.deps.converge(this.deps.convergeTimeoutMs);
      record.convergeMs = Date.now() - (record.restoredAt ?? record.at);
      log(`    converged ${(record.convergeMs / 1000).toFixed(1)} s after ${record.label}`);
    } catch (error) {
      record.error = `${record.error ? `${record.error}; ` : ''}did not converge: ${(error as Error).message.split('\n')[0]}`;
      log(`  ! ${record.label}: ${record.error}`);
    } finally {
      // A service's down window lasts until it is healthy again.
      if (window.to === Number.POSITIVE_INFINITY) window.to = Date.now();
    }
    return record;
  }
}
