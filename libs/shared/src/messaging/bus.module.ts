import { Global, Inject, Injectable, Module, Optional } from '@nestjs/common';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { EventSource } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { EventKeyRing } from '../event-signing/event-key-ring.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { jetStreamWaitMessage, natsWaitMessage } from '../runtime/dependency-hints.js';
import { growingDelay, retry, worthReporting } from '../runtime/retry.js';
import { ServiceLifecycle, StartupPhase } from '../runtime/service-lifecycle.js';
import { EVENT_KEYS, SERVICE_CONFIG, SERVICE_LOG, type ServiceLog } from '../runtime/service.module.js';
import { connectNats } from './nats-connection.js';
import { serveSignedRequests, SignedRpcClient } from './request-reply.js';

/** A request/reply subject this service answers, and how. */
interface Responder {
  readonly subject: string;
  readonly requestSchema: z.ZodType<unknown>;
  readonly handle: (request: unknown) => Promise<unknown>;
}

/**
 * The service's one NATS connection, and everything that goes over it: JetStream, and signed request/reply in both
 * directions (`answer`, `askerOf`). It connects after the database, retrying (a missing NATS is named, with the
 * command that starts it); a NATS outage afterwards makes the service unready (/readyz 503) until it is back, and
 * never kills it. Its responders start last, once the service has started; it drains when the service stops.
 */
@Injectable()
export class Bus {
  private nc: NatsConnection | undefined;
  private disconnected = false;
  private jsClient: JetStreamClient | undefined;
  private manager: JetStreamManager | undefined;
  private readonly responders: Responder[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly reconnectListeners: (() => void)[] = [];

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(SERVICE_LOG) private readonly log: ServiceLog,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(ServiceLifecycle) private readonly lifecycle: ServiceLifecycle,
    // Absent only in a tool that administers the bus (bus setup), which neither answers nor asks.
    @Optional() @Inject(EVENT_KEYS) private readonly keys?: EventKeyRing,
  ) {
    lifecycle.add({ phase: StartupPhase.Bus, start: (signal) => this.connect(signal), stop: () => this.close() });
    lifecycle.add({ phase: StartupPhase.Serving, start: () => this.serve(), stop: () => this.stopServing() });
  }

  /** Connects (retrying until NATS answers or `signal` aborts) and reaches JetStream. */
  async connect(signal: AbortSignal): Promise<void> {
    const { servers } = this.config.nats;
    this.nc = await connectNats(this.config.nats, this.config.service, signal, (attempt, error) => {
      if (worthReporting(attempt)) this.log.warn(natsWaitMessage(servers, error, attempt));
    });
    void this.watchStatus(this.nc);
    const nc = this.nc;
    this.manager = await this.untilJetStream('JetStream', () => jetstreamManager(nc), signal);
    this.jsClient = jetstream(nc);
  }

  /** Runs a JetStream administration step until it succeeds, saying what it waits for (e.g. 'the JetStream streams'). */
  untilJetStream<T>(what: string, work: () => Promise<T>, signal = this.lifecycle.signal): Promise<T> {
    const { servers } = this.config.nats;
    return retry(work, {
      delayMs: growingDelay(250, 2000),
      stopped: () => signal.aborted,
      onFailure: (error, attempt) => {
        if (worthReporting(attempt)) this.log.warn(jetStreamWaitMessage(what, servers, error, attempt));
      },
    });
  }

  /** The NATS connection; only once the bus has connected. */
  get nats(): NatsConnection {
    if (!this.nc) throw new Error('NATS is not connected yet');
    return this.nc;
  }

  get js(): JetStreamClient {
    if (!this.jsClient) throw new Error('JetStream is not connected yet');
    return this.jsClient;
  }

  get jsm(): JetStreamManager {
    if (!this.manager) throw new Error('JetStream is not connected yet');
    return this.manager;
  }

  /** True while connected: not before, not between a disconnect and the reconnect, not after the drain. */
  get isUp(): boolean {
    return !!this.nc && !this.nc.isClosed() && !this.disconnected;
  }

  /** Calls `listener` each time NATS comes back after a disconnect (the relay then audits its stream). */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /**
   * Answers signed requests on `subject` (this service's instances share them as a queue group) once the service
   * has started; every reply is signed with this service's event-signing key for that one request.
   */
  answer<Req>(subject: string, requestSchema: z.ZodType<Req>, handle: (request: Req) => Promise<unknown>): void {
    const responder = { subject, requestSchema, handle } as Responder;
    this.responders.push(responder);
    if (this.lifecycle.started && this.nc) this.startResponder(responder);
  }

  /** Asks `owner`'s signed request/reply subjects over this connection, believing only `owner`'s signature. */
  askerOf(owner: EventSource, dependency: string): SignedRpcClient {
    return new SignedRpcClient({
      connection: () => (this.disconnected ? undefined : this.nc),
      inboxPrefix: this.config.nats.inboxPrefix,
      keys: this.eventKeys.verification,
      owner,
      dependency,
      onForgery: (subject, detail) => {
        this.metrics.forgedReplies.inc({ subject });
        this.log.warn(`ignored a forged answer on ${subject}: ${detail}`);
      },
    });
  }

  private get eventKeys(): EventKeyRing {
    if (!this.keys) throw new Error('this process has no event keys: it can neither answer nor ask');
    return this.keys;
  }

  private serve(): void {
    for (const responder of this.responders) this.startResponder(responder);
  }

  private startResponder(responder: Responder): void {
    this.subscriptions.push(
      serveSignedRequests(this.nats, {
        ...responder,
        queue: this.config.service,
        signer: this.eventKeys.signing,
        onError: (detail) => this.log.warn(detail),
      }),
    );
  }

  private stopServing(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.disconnected = true;
        this.metrics.ready.set(0);
        this.log.warn(`lost NATS (${this.config.nats.servers.join(',')}): not ready (/readyz 503) until it is back`);
      } else if (status.type === 'reconnect') {
        this.disconnected = false;
        const { started } = this.lifecycle;
        this.log.log(`NATS is back${started ? ': ready' : ''}`);
        for (const listener of this.reconnectListeners) listener();
        if (started) this.metrics.ready.set(1);
      }
    }
  }

  /** Drains the connection (what was published goes out first). */
  async close(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }
}

/** The bus part of a service (global): its one NATS connection, JetStream and request/reply. Needs ServiceModule. */
@Global()
@Module({ providers: [Bus], exports: [Bus] })
export class BusModule {}
