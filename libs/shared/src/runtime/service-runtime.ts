import type { DataSource, MigrationInterface } from 'typeorm';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import { busNames, NewestEventRequestV1, type BusNames, type EventEnvelope, type EventSource } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import { createDataSource, ensureDatabaseAndSchema } from '../database/postgres.js';
import { EventStore } from '../event-store/event-store.js';
import { OutboxRelay } from '../event-store/outbox-relay.js';
import { publishedStream } from '../messaging/published-stream.js';
import { serveSignedRequests, SignedRpcClient } from '../messaging/request-reply.js';
import { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import { connectNats } from '../messaging/nats-connection.js';
import { ensureDeadLetterStream, ensureEventStream } from '../messaging/streams.js';
import type { MessageDecoder } from '../messaging/decode-event.js';
import { DeadLetterSink, decodeDeadLetter, type DeadLetter } from '../messaging/dead-letters.js';
import { DeadLetterIndex, deadLetterIndexConsumers, type ReplayOutcome } from '../dead-letters/dead-letter-index.js';
import {
  BatchingConsumer,
  ensureDurableConsumer,
  type BatchHandler,
  type DurableConsumerSpec,
} from '../messaging/durable-consumer.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { loadEventKeyRing, type EventKeyRing } from '../event-signing/event-key-ring.js';
import { jetStreamWaitMessage, natsWaitMessage, postgresWaitMessage } from './dependency-hints.js';
import { verifiedEventBatchDecoder, verifiedEventDecoder } from '../event-signing/event-signature.js';
import { SignatureVerifier } from '../event-signing/signature-verifier.js';

type MigrationClass = new () => MigrationInterface;

/** What a service consumes from the bus, and the handler that applies each batch. */
export interface ConsumptionPlan {
  /** Streams read; created if missing so that services can start in any order. */
  readonly sources: readonly EventSource[];
  readonly consumers: (names: BusNames) => DurableConsumerSpec[];
  readonly handler: BatchHandler;
  /** The poison check (default decodeEvent); a replayed dead letter goes through it again. */
  readonly decode?: MessageDecoder<EventEnvelope>;
}

export interface ServiceRuntimeOptions {
  readonly config: ServiceConfig;
  readonly migrations: readonly MigrationClass[];
  /** The source whose events this service writes to its event store and relays to JetStream. */
  readonly publishes: EventSource;
  /** Where the runtime reports (the service's logger; default the console, prefixed with the service). */
  readonly logger?: RuntimeLogger;
}

/** What the runtime logs with: the service's logger, in its format. */
export interface RuntimeLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface HealthReport {
  readonly status: 'ok' | 'unavailable';
  readonly checks: { readonly postgres: 'up' | 'down'; readonly nats: 'up' | 'down'; readonly started: boolean };
}

/**
 * Everything a service holds outside its HTTP layer: the database, the NATS connection, the event store
 * and its relay, and the consumers. `start()` connects in the background, retrying, so the HTTP server
 * can answer /health with 503 until the service is ready; `stop()` drains in the right order.
 */
export class ServiceRuntime {
  readonly names: BusNames;
  readonly dataSource: DataSource;
  readonly eventStore: EventStore;
  readonly metrics: ServiceMetrics;
  /** The dead letters of this service's consumers (empty for a service that consumes nothing). */
  readonly deadLetters: DeadLetterIndex;
  private deadLetterIndexer: BatchingConsumer<DeadLetter> | undefined;
  /** This service's signing key and every producer's public keys (EVENT_KEYS_DIR). */
  readonly eventKeys: EventKeyRing;
  private nc: NatsConnection | undefined;
  private natsDisconnected = false;
  private jsClient: JetStreamClient | undefined;
  private relay: OutboxRelay | undefined;
  private consumer: BatchingConsumer | undefined;
  private signatureVerifier: SignatureVerifier | undefined;
  private consumption: ConsumptionPlan | undefined;
  private readonly connectedHooks: (() => Promise<void> | void)[] = [];
  private readonly responders: Responder[] = [];
  private readonly responderSubscriptions: Subscription[] = [];
  private started = false;
  private starting: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private readonly logger: RuntimeLogger;

  constructor(private readonly options: ServiceRuntimeOptions) {
    const prefix = `[${options.config.service}]`;
    this.logger = options.logger ?? {
      log: (message) => console.log(prefix, message),
      warn: (message) => console.warn(prefix, message),
      error: (message) => console.error(prefix, message),
    };
    this.names = busNames(options.config.busNamespace);
    this.dataSource = createDataSource(options.config.postgres, options.migrations);
    this.eventStore = new EventStore(this.dataSource);
    this.metrics = new ServiceMetrics(options.config.service);
    this.deadLetters = new DeadLetterIndex(this.dataSource);
    // Throws ConfigurationError (exit 78) when the keys are missing or unreadable.
    this.eventKeys = loadEventKeyRing(options.config.eventKeys, options.publishes);
    for (const warning of this.eventKeys.warnings) this.logger.warn(warning);
    // Every producer says which event it committed last, so a consumer can tell whether it has applied all.
    this.answer(this.names.newestEvent(options.publishes), NewestEventRequestV1, async () => ({
      eventId: await this.eventStore.newestEventId(),
    }));
  }

  /**
   * Answers signed requests on `subject` (this service's instances share them as a queue group) from the moment
   * NATS is connected; every reply is signed with this service's event-signing key for that one request.
   */
  answer<Req>(subject: string, requestSchema: z.ZodType<Req>, handle: (request: Req) => Promise<unknown>): void {
    const responder: Responder = { subject, requestSchema, handle } as Responder;
    this.responders.push(responder);
    if (this.started) this.startResponder(responder);
  }

  /** Asks `owner`'s signed request/reply subjects over this service's connection, believing only `owner`'s signature. */
  askerOf(owner: EventSource, dependency: string): SignedRpcClient {
    return new SignedRpcClient({
      connection: () => (this.natsDisconnected ? undefined : this.nc),
      inboxPrefix: this.options.config.nats.inboxPrefix,
      keys: this.eventKeys.verification,
      owner,
      dependency,
      onForgery: (subject, detail) => {
        this.metrics.forgedReplies.inc({ subject });
        this.logger.warn(`ignored a forged answer on ${subject}: ${detail}`);
      },
    });
  }

  private startResponder(responder: Responder): void {
    this.responderSubscriptions.push(
      serveSignedRequests(this.nats, {
        ...responder,
        queue: this.options.config.service,
        signer: this.eventKeys.signing,
        onError: (detail) => this.logger.warn(detail),
      }),
    );
  }

  /** Counts events a consumer refused (the projector's replays and stale versions, say). */
  rejected(reason: string, count = 1): void {
    if (count > 0) this.metrics.eventsRejected.inc({ reason }, count);
  }

  get config(): ServiceConfig {
    return this.options.config;
  }

  /** The NATS connection; only call once the service is ready. */
  get nats(): NatsConnection {
    if (!this.nc) throw new Error('NATS is not connected yet');
    return this.nc;
  }

  get js(): JetStreamClient {
    if (!this.jsClient) throw new Error('JetStream is not connected yet');
    return this.jsClient;
  }

  get isReady(): boolean {
    return this.started && this.dataSource.isInitialized && !!this.nc && !this.nc.isClosed() && !this.natsDisconnected;
  }

  /** True when the service consumes events (and so has dead letters). */
  get consumes(): boolean {
    return !!this.consumption;
  }

  /** Applies a dead letter with the consumer's own decoder and handler (see DeadLetterIndex.replay). */
  replayDeadLetter(id: number): Promise<ReplayOutcome> {
    if (!this.consumption) return Promise.resolve({ ok: false, kind: 'not-found' });
    return this.deadLetters.replay(id, this.consumerDecoder(this.consumption), this.consumption.handler);
  }

  /** Registers what the service consumes; call before start(). */
  consume(plan: ConsumptionPlan): void {
    this.consumption = plan;
  }

  /** Runs `hook` once PostgreSQL and NATS are connected, e.g. to answer requests from other services. */
  whenConnected(hook: () => Promise<void> | void): void {
    this.connectedHooks.push(hook);
  }

  /** Starts connecting in the background; resolves when the service is ready. */
  start(): Promise<void> {
    this.starting ??= this.connectAll();
    return this.starting;
  }

  private async connectAll(): Promise<void> {
    const { config } = this.options;
    const servers = config.nats.servers;
    const jetStreamWait = (what: string) => (error: unknown, attempt: number) =>
      jetStreamWaitMessage(what, servers, error, attempt);
    await this.retry(
      async () => {
        await ensureDatabaseAndSchema(config.postgres);
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
        const applied = await this.dataSource.runMigrations({ transaction: 'each' });
        if (applied.length > 0)
          this.logger.log(`applied ${applied.length} database migration(s): ${applied.map((m) => m.name).join(', ')}`);
      },
      (error, attempt) => postgresWaitMessage(config.postgres, error, attempt),
    );
    this.nc = await connectNats(config.nats, config.service, this.abort.signal, (attempt, error) => {
      if (attempt === 1 || attempt % 10 === 0) this.logger.warn(natsWaitMessage(servers, error, attempt));
    });
    void this.watchNatsStatus(this.nc);
    const jsm: JetStreamManager = await this.retry(() => jetstreamManager(this.nc!), jetStreamWait('JetStream'));
    this.jsClient = jetstream(this.nc);
    const sources = new Set<EventSource>([this.options.publishes, ...(this.consumption?.sources ?? [])]);
    await this.retry(async () => {
      for (const source of sources)
        await ensureEventStream(jsm, this.names, source, { maxBytes: config.streamMaxBytes, replicas: config.streamReplicas });
    }, jetStreamWait('the JetStream streams'));
    this.relay = new OutboxRelay({
      postgres: config.postgres,
      publisher: new PubAckPublisher(this.nc, config.nats.inboxPrefix),
      names: this.names,
      signer: this.eventKeys.signing,
      stream: publishedStream(jsm, this.names.stream(this.options.publishes)),
      observer: {
        published: (n) => this.metrics.eventsPublished.inc(n),
        failed: (e) => {
          this.metrics.relayFailures.inc();
          this.logger.warn(`relay round failed, retrying: ${e.message}`);
        },
        lossDetected: (detail) => {
          this.metrics.streamLossDetected.inc();
          this.logger.error(`JetStream lost events of ${this.names.stream(this.options.publishes)}: ${detail}`);
        },
        republished: (n) => this.metrics.eventsRepublished.inc(n),
        backlog: (n) => this.metrics.outboxBacklog.set(n),
        leader: (isLeader) => this.metrics.relayLeader.set(isLeader ? 1 : 0),
      },
    });
    this.relay.start();
    if (this.consumption) {
      const specs = this.consumption.consumers(this.names);
      const indexSpecs = deadLetterIndexConsumers(this.names, specs);
      await this.retry(async () => {
        await ensureDeadLetterStream(jsm, this.names, { maxBytes: config.streamMaxBytes, replicas: config.streamReplicas });
        for (const spec of [...specs, ...indexSpecs]) await ensureDurableConsumer(jsm, spec);
      }, jetStreamWait('the JetStream consumers'));
      const { verification } = this.eventKeys;
      // Read at each scrape; while NATS is away the series are left out rather than stale.
      this.metrics.readPendingFrom(() => {
        if (this.natsDisconnected) return Promise.reject(new Error('NATS is disconnected'));
        return Promise.all(
          [...specs, ...indexSpecs].map(async ({ stream, durable }) => {
            const info = await jsm.consumers.info(stream, durable);
            return { stream, durable, pending: info.num_pending + info.num_ack_pending };
          }),
        );
      });
      const batchTimer = (consumer: string) => (events: number, seconds: number) => {
        this.metrics.consumerBatchDuration.observe({ consumer }, seconds);
        this.metrics.consumerBatchSize.observe({ consumer }, events);
      };
      this.consumer = new BatchingConsumer(
        this.jsClient,
        specs,
        this.consumption.handler,
        {
          applied: () => undefined,
          rejected: (_detail, _subject, code) => {
            this.metrics.eventsConsumed.inc({ outcome: 'rejected' });
            this.rejected(code.toLowerCase());
          },
          failed: () => this.metrics.consumerBatchFailures.inc(),
          deadLettered: (consumer, reason) => this.metrics.deadLettered.inc({ consumer, reason }),
          batchApplied: batchTimer(consumerLabel(specs)),
        },
        {
          decode: this.consumerDecoder(this.consumption),
          ...(this.consumption.decode
            ? {}
            : { decodeBatch: verifiedEventBatchDecoder(verification, this.names, this.startSignatureVerifier()) }),
          deadLetters: new DeadLetterSink(this.jsClient, this.names),
        },
      );
      this.deadLetterIndexer = new BatchingConsumer(
        this.jsClient,
        indexSpecs,
        this.deadLetters.record,
        {
          applied: () => undefined,
          rejected: (reason, subject) => this.logger.warn(`ignored a malformed dead letter on ${subject}: ${reason}`),
          failed: () => this.metrics.consumerBatchFailures.inc(),
          batchApplied: batchTimer(consumerLabel(indexSpecs)),
        },
        { decode: decodeDeadLetter },
      );
      await this.consumer.start();
      await this.deadLetterIndexer.start();
    }
    for (const hook of this.connectedHooks) await hook();
    this.started = true;
    for (const responder of this.responders) this.startResponder(responder);
    this.metrics.ready.set(1);
  }

  /**
   * The consumer's one poison check, for live messages and replayed dead letters alike: by default only events
   * signed by their producer pass (a forgery that was dead-lettered must not be applied by replaying it).
   */
  private consumerDecoder(plan: ConsumptionPlan): MessageDecoder<EventEnvelope> {
    return plan.decode ?? verifiedEventDecoder(this.eventKeys.verification, this.names);
  }

  /** The threads that check consumed events' signatures (one per core but this one's). */
  private startSignatureVerifier(): SignatureVerifier {
    this.signatureVerifier ??= new SignatureVerifier(this.eventKeys.verification);
    return this.signatureVerifier;
  }

  private async watchNatsStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.natsDisconnected = true;
        this.metrics.ready.set(0);
        this.logger.warn(`lost NATS (${this.options.config.nats.servers.join(',')}): not ready (/readyz 503) until it is back`);
      } else if (status.type === 'reconnect') {
        this.natsDisconnected = false;
        this.logger.log(`NATS is back${this.started ? ': ready' : ''}`);
        // The server may have restarted with less than it acknowledged (a power loss): look before publishing on.
        this.relay?.auditSoon();
        if (this.started) this.metrics.ready.set(1);
      }
    }
  }

  /** Runs `work` until it succeeds, saying what it waits for (`waiting(…)`) on the first and every tenth failure. */
  private async retry<T>(work: () => Promise<T>, waiting: (error: unknown, attempt: number) => string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (this.abort.signal.aborted) throw error;
        if (attempt === 1 || attempt % 10 === 0) this.logger.warn(waiting(error, attempt));
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
      }
    }
  }

  /** Checks both dependencies now (a query and the NATS connection state). */
  async health(): Promise<HealthReport> {
    let postgres: 'up' | 'down' = 'down';
    if (this.dataSource.isInitialized) {
      try {
        await withTimeout(this.dataSource.query('SELECT 1'), 1000);
        postgres = 'up';
      } catch {
        postgres = 'down';
      }
    }
    const nats = this.nc && !this.nc.isClosed() && !this.natsDisconnected ? 'up' : 'down';
    const ok = this.started && postgres === 'up' && nats === 'up';
    return { status: ok ? 'ok' : 'unavailable', checks: { postgres, nats, started: this.started } };
  }

  /** Stops consuming (finishing the batch in progress), stops the relay, closes NATS and PostgreSQL. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.started = false;
    this.metrics.ready.set(0);
    for (const subscription of this.responderSubscriptions.splice(0)) subscription.unsubscribe();
    await this.consumer?.stop();
    await this.deadLetterIndexer?.stop();
    await this.relay?.stop();
    await this.signatureVerifier?.close();
    if (this.nc && !this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** A consumer's label on the batch metrics: its durable name(s), e.g. `sync-agent` for both of its streams. */
function consumerLabel(specs: readonly DurableConsumerSpec[]): string {
  return [...new Set(specs.map((spec) => spec.durable))].join(',');
}

/** A request/reply subject this service answers, and how. */
interface Responder {
  readonly subject: string;
  readonly requestSchema: z.ZodType<unknown>;
  readonly handle: (request: unknown) => Promise<unknown>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
