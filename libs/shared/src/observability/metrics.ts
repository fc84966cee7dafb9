import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/**
 * The prefix of every application metric, so that the system's series are found (and told apart from other
 * applications') by one name. prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`) keep
 * their standard names, which ready-made Node.js dashboards and alerts expect; the `service` label tells the
 * three services apart (docs/decisions.md §39).
 */
export const METRIC_PREFIX = 'ha_license_sync_';

/** An application metric's full name. */
export const metricName = (name: string): string => `${METRIC_PREFIX}${name}`;

/**
 * HTTP request duration buckets (seconds): reads answer in a few milliseconds, writes in tens (p99 about 260 ms
 * under load); a key check or product lookup may wait for its 2 s request/reply deadline; 1 s is the latency alert's
 * threshold.
 */
export const HTTP_DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Consumer batch transaction buckets (seconds): one event takes milliseconds, a batch of 5,000 several seconds. */
export const BATCH_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Events per consumer batch, up to the batch limit (CONSUMER_DEFAULTS.batchSize, 5,000). */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/**
 * Propagation buckets (seconds, commit to applied by the sync agent): tens of milliseconds when idle, about a second
 * at the machine's limit, minutes after an outage; 5 s is the propagation alert's threshold.
 */
export const PROPAGATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** How long a scrape waits for JetStream's consumer info before it leaves the pending gauge out. */
export const CONSUMER_PENDING_TIMEOUT_MS = 1_000;

/** A durable consumer's messages not yet acknowledged (num_pending + num_ack_pending). */
export interface PendingCount {
  readonly stream: string;
  readonly durable: string;
  readonly pending: number;
}

/** How often the event-loop delay histogram takes a sample. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** The Prometheus metrics every service exposes on GET /metrics. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly eventsPublished = this.counter({
    name: 'outbox_events_published_total',
    help: 'Events the outbox relay published to JetStream (PubAck received)',
  });
  readonly relayFailures = this.counter({
    name: 'outbox_relay_failures_total',
    help: 'Relay rounds that failed and will be retried (NATS or PostgreSQL unavailable)',
  });
  readonly outboxBacklog = this.gauge({
    name: 'outbox_backlog_events',
    help:
      'Committed events the relay has not published yet, as of its last round (0 on an instance that is not the ' +
      'elected relay: take the max per service)',
  });
  readonly relayLeader = this.gauge({
    name: 'outbox_relay_leader',
    help: "1 on the instance that holds the relay's lock and publishes, 0 on a standby",
  });
  readonly eventsConsumed = this.counter({
    name: 'consumer_events_total',
    help: 'Events a consumer handled, by outcome: applied, redelivered (the message that applied it, again), rejected (dead-lettered or terminated)',
    labelNames: ['outcome'],
  });
  readonly eventsRejected = this.counter({
    name: 'events_rejected_total',
    help:
      'Consumed events refused without being applied, by reason: malformed, unsigned, unknown_key, bad_signature, ' +
      'wrong_key (signed by another service), moved (another subject), replayed (event id already applied), ' +
      'stale_version (not newer than the version held)',
    labelNames: ['reason'],
  });
  readonly consumerBatchFailures = this.counter({
    name: 'consumer_batch_failures_total',
    help: 'Consumer batches whose transaction failed and were negatively acknowledged',
  });
  readonly consumerBatchDuration = this.histogram({
    name: 'consumer_batch_duration_seconds',
    help: "Time a consumer's committed batch took to apply (its transaction), by consumer",
    labelNames: ['consumer'],
    buckets: [...BATCH_DURATION_BUCKETS],
  });
  readonly consumerBatchSize = this.histogram({
    name: 'consumer_batch_events',
    help: "Events in a consumer's committed batch, by consumer",
    labelNames: ['consumer'],
    buckets: [...BATCH_SIZE_BUCKETS],
  });
  private pendingSource: (() => Promise<readonly PendingCount[]>) | undefined;
  readonly consumerPending: Gauge<'stream' | 'durable'> = this.gauge({
    name: 'consumer_pending_messages',
    help:
      'Messages of a durable consumer not yet acknowledged: not delivered (num_pending) plus delivered and awaiting ' +
      'their ack (num_ack_pending), read from JetStream at scrape time (absent while JetStream does not answer)',
    labelNames: ['stream', 'durable'],
    collect: () => this.collectPending(),
  });
  readonly deadLettered = this.counter({
    name: 'dead_lettered_total',
    help: 'Messages a consumer copied to the dead-letter stream and terminated, by consumer and reason',
    labelNames: ['consumer', 'reason'],
  });
  readonly propagation = this.histogram({
    name: 'propagation_seconds',
    help:
      "Sync agent: from an event's occurredAt at its producer to the commit of the batch that applied it, by event type " +
      '(includes clock skew between the hosts)',
    labelNames: ['type'],
    buckets: [...PROPAGATION_BUCKETS],
  });
  readonly forgedReplies = this.counter({
    name: 'rpc_forged_replies_total',
    help: 'Request/reply answers ignored because the owning service did not sign them for that request, by subject',
    labelNames: ['subject'],
  });
  readonly streamLossDetected = this.counter({
    name: 'outbox_stream_loss_detected_total',
    help: 'Times the relay found its JetStream stream holding less than it had published (lost tail, purge, re-creation)',
  });
  readonly eventsRepublished = this.counter({
    name: 'outbox_events_republished_total',
    help: 'Events the relay published again because its stream had lost them',
  });
  readonly ready = this.gauge({
    name: 'service_ready',
    help: '1 when the service is connected to PostgreSQL and NATS and serving (what /readyz answers)',
  });
  readonly httpRequestDuration = this.histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status class (2xx, 4xx, 5xx), from arrival to the last byte sent',
    labelNames: ['method', 'route', 'status_class'],
    buckets: [...HTTP_DURATION_BUCKETS],
  });

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    // The event-loop delay is sampled every 100 ms, not prom-client's 10 ms: each sample wakes the process, and at
    // 10 ms that costs an idle service about 0.3 % of a core more. A delay is still measured to the nanosecond.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** A counter in the service's registry, named `name` with the prefix of every application metric. */
  private counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return new Counter({ ...config, name: metricName(config.name), registers: [this.registry] });
  }

  /** A gauge in the service's registry, named `name` with the prefix of every application metric. */
  private gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return new Gauge({ ...config, name: metricName(config.name), registers: [this.registry] });
  }

  /** A histogram in the service's registry, named `name` with the prefix of every application metric. */
  private histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return new Histogram({ ...config, name: metricName(config.name), registers: [this.registry] });
  }

  /** Where the consumer-pending gauge is read from at each scrape (the EventConsumer, once its consumers exist). */
  readPendingFrom(source: () => Promise<readonly PendingCount[]>): void {
    this.pendingSource = source;
  }

  /**
   * Asks JetStream at scrape time, so the value is as fresh as the scrape and costs nothing between scrapes; a
   * JetStream that does not answer within CONSUMER_PENDING_TIMEOUT_MS leaves the series out rather than stale.
   */
  private async collectPending(): Promise<void> {
    const source = this.pendingSource;
    if (!source) return;
    const counts = await withTimeout(source(), CONSUMER_PENDING_TIMEOUT_MS).catch((): readonly PendingCount[] => []);
    this.consumerPending.reset();
    for (const { stream, durable, pending } of counts) this.consumerPending.set({ stream, durable }, pending);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error instanceof Error ? error : new Error(String(error)))),
    );
  });
}
