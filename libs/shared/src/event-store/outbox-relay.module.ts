import { Inject, Injectable, Module } from '@nestjs/common';
import { NewestEventRequestV1, type BusNames, type EventSource } from '../contracts/index.js';
import type { ServiceConfig } from '../config/service-config.js';
import type { EventKeyRing } from '../event-signing/event-key-ring.js';
import { Bus } from '../messaging/bus.module.js';
import { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import { publishedStream } from '../messaging/published-stream.js';
import { ensureEventStream } from '../messaging/streams.js';
import { ServiceMetrics } from '../observability/metrics.js';
import { worthReporting } from '../runtime/retry.js';
import { ServiceLifecycle, StartupPhase } from '../runtime/service-lifecycle.js';
import {
  BUS_NAMES,
  EVENT_KEYS,
  SERVICE_CONFIG,
  SERVICE_DEFINITION,
  SERVICE_LOG,
  type ServiceDefinition,
  type ServiceLog,
} from '../runtime/service.module.js';
import { EventStore } from './event-store.js';
import { OutboxRelay, RELAY_JETSTREAM_SILENCE_MS } from './outbox-relay.js';

/**
 * Publishes what the service commits: the OutboxRelay reads the event store in commit order and publishes each
 * event, signed, to the service's stream (created if missing), after the bus connected; it stops, finishing its
 * round, before the bus drains. The service also answers who asks which event it committed last (the newest-event
 * responder), so a consumer can tell whether it has applied everything.
 */
@Injectable()
export class EventPublishing {
  private relay: OutboxRelay | undefined;
  private readonly source: EventSource;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(SERVICE_DEFINITION) definition: ServiceDefinition,
    @Inject(SERVICE_LOG) private readonly log: ServiceLog,
    @Inject(BUS_NAMES) private readonly names: BusNames,
    @Inject(EVENT_KEYS) private readonly keys: EventKeyRing,
    @Inject(ServiceMetrics) private readonly metrics: ServiceMetrics,
    @Inject(Bus) private readonly bus: Bus,
    @Inject(EventStore) private readonly eventStore: EventStore,
    @Inject(ServiceLifecycle) lifecycle: ServiceLifecycle,
  ) {
    this.source = definition.publishes;
    bus.answer(names.newestEvent(this.source), NewestEventRequestV1, async () => ({
      eventId: await eventStore.newestEventId(),
    }));
    // The server may have restarted with less than it acknowledged (a power loss): look before publishing on.
    bus.onReconnect(() => this.relay?.auditSoon());
    lifecycle.add({ phase: StartupPhase.Relay, start: () => this.start(), stop: () => this.relay?.stop() });
  }

  private async start(): Promise<void> {
    const { config, names, metrics, bus } = this;
    const stream = names.stream(this.source);
    const limits = { maxBytes: config.streamMaxBytes, replicas: config.streamReplicas };
    await bus.untilJetStream('the JetStream streams', () => ensureEventStream(bus.jsm, names, this.source, limits));
    this.relay = new OutboxRelay({
      postgres: config.postgres,
      publisher: new PubAckPublisher(bus.nats, config.nats.inboxPrefix),
      names,
      signer: this.keys.signing,
      stream: publishedStream(bus.nats, stream, RELAY_JETSTREAM_SILENCE_MS),
      appended: this.eventStore.appended,
      observer: {
        published: (n) => metrics.eventsPublished.inc(n),
        failed: (e, attempt) => {
          metrics.relayFailures.inc();
          // An outage fails a round every few seconds: its first failure and every tenth say so.
          if (worthReporting(attempt)) this.log.warn(`relay round failed (${attempt} in a row), retrying: ${e.message}`);
        },
        lossDetected: (detail) => {
          metrics.streamLossDetected.inc();
          this.log.error(`JetStream lost events of ${stream}: ${detail}`);
        },
        republished: (n) => metrics.eventsRepublished.inc(n),
        backlog: (n) => metrics.outboxBacklog.set(n),
        leader: (isLeader) => metrics.relayLeader.set(isLeader ? 1 : 0),
      },
    });
    this.eventStore.announceCommitsTo(this.relay);
    this.relay.start();
  }
}

/** The outbox-relay part of a producing service. Needs ServiceModule, DatabaseModule and BusModule. */
@Module({ providers: [EventPublishing] })
export class OutboxRelayModule {}
