import { Inject, Injectable, Module, type DynamicModule, type Type } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { BusNames, EventEnvelope, EventSource } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import {
  DeadLetterIndex,
  deadLetterIndexConsumers,
  type DeadLetterPage,
  type DeadLetterQuery,
  type ReplayOutcome,
} from '../dead-letters/dead-letter-index.js';
import { DeadLetterDesk, DeadLettersController } from '../dead-letters/dead-letters.controller.js';
import type { EventKeyRing } from '../event-signing/event-key-ring.js';
import { verifiedEventBatchDecoder, verifiedEventDecoder } from '../event-signing/event-signature.js';
import { SignatureVerifier } from '../event-signing/signature-verifier.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { ServiceLifecycle, StartupPhase } from '../runtime/service-lifecycle.js';
import { BUS_NAMES, EVENT_KEYS, SERVICE_CONFIG, SERVICE_LOG, type ServiceLog } from '../runtime/service.module.js';
import { Bus } from './bus.module.js';
import { DeadLetterSink, decodeDeadLetter, type DeadLetter } from './dead-letters.js';
import type { MessageDecoder } from './decode-event.js';
import {
  BatchingConsumer,
  ensureDurableConsumer,
  type BatchHandler,
  type BatchingConsumerOptions,
  type DurableConsumerSpec,
} from './durable-consumer.js';
import { ensureDeadLetterStream, ensureEventStream } from './streams.js';

/** A provider that applies consumed batches: the projector, the transfer handler. */
export interface EventHandler {
  readonly handle: BatchHandler;
}

/** What a service consumes from the bus, and which provider applies each batch. */
export interface ConsumerModuleOptions {
  /** Streams read; created if missing so that services can start in any order. */
  readonly sources: readonly EventSource[];
  readonly consumers: (names: BusNames) => DurableConsumerSpec[];
  /** The provider class whose `handle` applies each batch; the module provides it (and exports it). */
  readonly handler: Type<EventHandler>;
  /** The poison check (default: only events signed by their producer); a replayed dead letter goes through it again. */
  readonly decode?: MessageDecoder<EventEnvelope>;
}

/**
 * How a consumer of other services' events decodes them: only events signed by their producer pass (a forgery that
 * was refused stays refused), a batch's signatures checked on `verifier`'s threads, a single message inline. The
 * EventConsumer reads with these, and so does the sync agent's rebuild (with its own handler, and no dead letters).
 */
export function verifiedEventDecoders(
  verification: EventKeyRing['verification'],
  names: BusNames,
  verifier: SignatureVerifier,
): Required<Pick<BatchingConsumerOptions<EventEnvelope>, 'decode' | 'decodeBatch'>> {
  return {
    decode: verifiedEventDecoder(verification, names),
    decodeBatch: verifiedEventBatchDecoder(verification, names, verifier),
  };
}

const CONSUMPTION = Symbol('ConsumerModuleOptions');
const HANDLER = Symbol('EventHandler');

/**
 * Consumes the sources' streams with the handler: one BatchingConsumer over the service's durable consumers (events
 * decoded and their signatures checked, poison dead-lettered), and one that indexes its dead letters in the
 * database. Starts after the relay, stops (finishing the batch in progress) before it.
 */
@Injectable()
export class EventConsumer extends DeadLetterDesk {
  private consumer: BatchingConsumer | undefined;
  private indexer: BatchingConsumer<DeadLetter> | undefined;
  private signatureVerifier: SignatureVerifier | undefined;
  private readonly decode: MessageDecoder<EventEnvelope>;

  constructor(
    @Inject(CONSUMPTION) private readonly plan: ConsumerModuleOptions,
    @Inject(HANDLER) private readonly handler: EventHandler,
    @Inject(DeadLetterIndex) private readonly deadLetters: DeadLetterIndex,
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(SERVICE_LOG) private readonly log: ServiceLog,
    @Inject(BUS_NAMES) private readonly names: BusNames,
    @Inject(EVENT_KEYS) private readonly keys: EventKeyRing,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(ServiceLifecycle) lifecycle: ServiceLifecycle,
  ) {
    super();
    // The one poison check, for live messages and replayed dead letters alike: by default only events signed by
    // their producer pass (a forgery that was dead-lettered must not be applied by replaying it).
    this.decode = plan.decode ?? verifiedEventDecoder(keys.verification, names);
    lifecycle.add({ phase: StartupPhase.Consumers, start: () => this.start(), stop: () => this.stop() });
  }

  list(query: DeadLetterQuery): Promise<DeadLetterPage> {
    return this.deadLetters.list(query);
  }

  replay(id: number): Promise<ReplayOutcome> {
    return this.deadLetters.replay(id, this.decode, this.handler.handle);
  }

  private async start(): Promise<void> {
    const { bus, names, metrics, config } = this;
    const limits = { maxBytes: config.streamMaxBytes, replicas: config.streamReplicas };
    const specs = this.plan.consumers(names);
    const indexSpecs = deadLetterIndexConsumers(names, specs);
    await bus.untilJetStream('the JetStream streams', async () => {
      for (const source of this.plan.sources) await ensureEventStream(bus.jsm, names, source, limits);
    });
    await bus.untilJetStream('the JetStream consumers', async () => {
      await ensureDeadLetterStream(bus.jsm, names, limits);
      for (const spec of [...specs, ...indexSpecs]) await ensureDurableConsumer(bus.jsm, spec);
    });
    // Read at each scrape; while NATS is away the series are left out rather than stale.
    metrics.readPendingFrom(() => {
      if (!bus.isUp) return Promise.reject(new Error('NATS is disconnected'));
      return Promise.all(
        [...specs, ...indexSpecs].map(async ({ stream, durable }) => {
          const info = await bus.jsm.consumers.info(stream, durable);
          return { stream, durable, pending: info.num_pending + info.num_ack_pending };
        }),
      );
    });
    const batchTimer = (consumer: string) => (events: number, seconds: number) => {
      metrics.consumerBatchDuration.observe({ consumer }, seconds);
      metrics.consumerBatchSize.observe({ consumer }, events);
    };
    this.consumer = new BatchingConsumer(
      bus.js,
      specs,
      this.handler.handle,
      {
        applied: () => undefined,
        rejected: (_detail, _subject, code) => {
          metrics.eventsConsumed.inc({ outcome: 'rejected' });
          metrics.eventsRejected.inc({ reason: code.toLowerCase() });
        },
        failed: () => metrics.consumerBatchFailures.inc(),
        deadLettered: (consumer, reason) => metrics.deadLettered.inc({ consumer, reason }),
        batchApplied: batchTimer(consumerLabel(specs)),
      },
      {
        ...(this.plan.decode ? { decode: this.decode } : verifiedEventDecoders(this.keys.verification, names, this.verifier())),
        deadLetters: new DeadLetterSink(bus.js, names),
      },
    );
    this.indexer = new BatchingConsumer(
      bus.js,
      indexSpecs,
      this.deadLetters.record,
      {
        applied: () => undefined,
        rejected: (reason, subject) => this.log.warn(`ignored a malformed dead letter on ${subject}: ${reason}`),
        failed: () => metrics.consumerBatchFailures.inc(),
        batchApplied: batchTimer(consumerLabel(indexSpecs)),
      },
      { decode: decodeDeadLetter },
    );
    await this.consumer.start();
    await this.indexer.start();
  }

  /** The threads that check consumed events' signatures (one per core but this one's). */
  private verifier(): SignatureVerifier {
    this.signatureVerifier ??= new SignatureVerifier(this.keys.verification);
    return this.signatureVerifier;
  }

  /** Stops pulling, finishes the batch in progress (its messages are acknowledged), and leaves the rest for redelivery. */
  private async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.indexer?.stop();
    await this.signatureVerifier?.close();
  }
}

/** A consumer's label on the batch metrics: its durable name(s), e.g. `sync-agent` for both of its streams. */
function consumerLabel(specs: readonly DurableConsumerSpec[]): string {
  return [...new Set(specs.map((spec) => spec.durable))].join(',');
}

/**
 * The consumer part of a consuming service: the handler (a provider of the module, injected into the consumer, and
 * exported for the service's other providers), the EventConsumer, and the dead-letter endpoints (GET /dead-letters,
 * POST /dead-letters/:id/replay). Needs ServiceModule, DatabaseModule and BusModule.
 */
@Module({})
export class ConsumerModule {
  static forFeature(options: ConsumerModuleOptions): DynamicModule {
    return {
      module: ConsumerModule,
      controllers: [DeadLettersController],
      providers: [
        { provide: CONSUMPTION, useValue: options },
        options.handler,
        { provide: HANDLER, useExisting: options.handler },
        {
          provide: DeadLetterIndex,
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => new DeadLetterIndex(dataSource),
        },
        EventConsumer,
        { provide: DeadLetterDesk, useExisting: EventConsumer },
      ],
      exports: [options.handler, EventConsumer],
    };
  }
}
