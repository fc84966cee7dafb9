import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ServiceMetrics } from '../observability/metrics.js';

/**
 * The order in which a service's parts start (and, reversed, stop). Each module adds its own steps; the order is
 * the service's: the database first (migrated), then NATS, the relay that publishes the outbox, the consumers, what
 * the application starts once connected, and last the request/reply responders, once everything they read is there.
 */
export const StartupPhase = {
  Database: 10,
  Bus: 20,
  Relay: 30,
  Consumers: 40,
  Application: 50,
  /** After the service counts as started: what answers other services. */
  Serving: 60,
} as const;
export type StartupPhase = (typeof StartupPhase)[keyof typeof StartupPhase];

/** One part's start, and its stop (called only once the start began). */
export interface StartupStep {
  readonly phase: StartupPhase;
  readonly start: (signal: AbortSignal) => Promise<void> | void;
  readonly stop?: () => Promise<void> | void;
}

/**
 * Starts the service's parts in the background, in phase order, once the HTTP server listens (Nest awaits its own
 * init hooks before it listens, and /livez and /readyz must answer while PostgreSQL or NATS is still missing); stops
 * them in reverse order when Nest shuts down, after the HTTP server stopped accepting. It owns no part: the
 * database, bus, relay and consumer modules add their steps when Nest initialises them.
 */
@Injectable()
export class ServiceLifecycle implements OnApplicationShutdown {
  private readonly steps: StartupStep[] = [];
  private readonly begun: StartupStep[] = [];
  private readonly abort = new AbortController();
  private starting: Promise<void> | undefined;
  private startedFlag = false;

  constructor(@Inject(ServiceMetrics) private readonly metrics: ServiceMetrics) {}

  /** Adds a part's start (and stop); call from a provider's constructor or onModuleInit, before `start()`. */
  add(step: StartupStep): void {
    this.steps.push(step);
  }

  /** Runs `hook` once PostgreSQL and NATS are connected and the consumers run (e.g. a scheduler's first round). */
  whenConnected(hook: () => Promise<void> | void): void {
    this.add({ phase: StartupPhase.Application, start: hook });
  }

  /** True from the moment every part up to the application's hooks has started until the service stops. */
  get started(): boolean {
    return this.startedFlag;
  }

  /** Aborted when the service stops: a start step that is still waiting for a dependency gives up. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Starts every part in phase order (once); resolves when the service is ready. */
  start(): Promise<void> {
    this.starting ??= this.startAll();
    return this.starting;
  }

  private async startAll(): Promise<void> {
    const ordered = [...this.steps].sort((a, b) => a.phase - b.phase);
    for (const step of ordered) {
      if (step.phase >= StartupPhase.Serving && !this.startedFlag) this.startedFlag = true;
      this.begun.push(step);
      await step.start(this.abort.signal);
    }
    this.startedFlag = true;
    this.metrics.ready.set(1);
  }

  /** Stops what started, the last started first: answering, consuming (finishing the batch), relaying, NATS, PostgreSQL. */
  async onApplicationShutdown(): Promise<void> {
    this.abort.abort();
    this.startedFlag = false;
    this.metrics.ready.set(0);
    for (const step of this.begun.splice(0).reverse()) await step.stop?.();
  }
}
