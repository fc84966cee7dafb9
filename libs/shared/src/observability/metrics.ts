import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics every service exposes on GET /metrics. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly eventsPublished = new Counter({
    name: 'outbox_events_published_total',
    help: 'Events the outbox relay published to JetStream (PubAck received)',
    registers: [this.registry],
  });
  readonly relayFailures = new Counter({
    name: 'outbox_relay_failures_total',
    help: 'Relay rounds that failed and will be retried (NATS or PostgreSQL unavailable)',
    registers: [this.registry],
  });
  readonly eventsConsumed = new Counter({
    name: 'consumer_events_total',
    help: 'Events a consumer handled, by outcome: applied, redelivered (the message that applied it, again), rejected (dead-lettered or terminated)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly eventsRejected = new Counter({
    name: 'events_rejected_total',
    help:
      'Consumed events refused without being applied, by reason: malformed, unsigned, unknown_key, bad_signature, ' +
      'wrong_key (signed by another service), moved (another subject), replayed (event id already applied), ' +
      'stale_version (not newer than the version held)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly consumerBatchFailures = new Counter({
    name: 'consumer_batch_failures_total',
    help: 'Consumer batches whose transaction failed and were negatively acknowledged',
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: 'dead_lettered_total',
    help: 'Messages a consumer copied to the dead-letter stream and terminated, by consumer and reason',
    labelNames: ['consumer', 'reason'],
    registers: [this.registry],
  });
  readonly forgedReplies = new Counter({
    name: 'rpc_forged_replies_total',
    help: 'Request/reply answers ignored because the owning service did not sign them for that request, by subject',
    labelNames: ['subject'],
    registers: [this.registry],
  });
  readonly streamLossDetected = new Counter({
    name: 'outbox_stream_loss_detected_total',
    help: 'Times the relay found its JetStream stream holding less than it had published (lost tail, purge, re-creation)',
    registers: [this.registry],
  });
  readonly eventsRepublished = new Counter({
    name: 'outbox_events_republished_total',
    help: 'Events the relay published again because its stream had lost them',
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'service_ready',
    help: '1 when the service is connected to PostgreSQL and NATS and serving',
    registers: [this.registry],
  });

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }
}
