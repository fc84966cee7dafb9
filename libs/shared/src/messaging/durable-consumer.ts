import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg, type ConsumerMessages } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { parseEnvelope, InvalidEventError, type EventEnvelope } from '../contracts/index.js';

/** Applies a batch of valid events in ONE database transaction; throwing rolls the whole batch back. */
export type BatchHandler = (events: readonly EventEnvelope[]) => Promise<void>;

/** What a consumer reports to metrics. */
export interface ConsumerObserver {
  applied(count: number): void;
  rejected(reason: string, subject: string): void;
  failed(error: Error): void;
}

export interface DurableConsumerSpec {
  /** The stream to read and the durable consumer's name on it. */
  readonly stream: string;
  readonly durable: string;
  /** Only these subjects (default: the whole stream). */
  readonly filterSubjects?: string[];
}

/**
 * The consumer settings, chosen deliberately:
 * - explicit ack, sent only after the batch's transaction committed (at-least-once; the handler's inbox
 *   makes a redelivery change nothing);
 * - `max_deliver` 10 with a growing backoff, so a message that keeps failing stops being retried hot;
 * - `max_ack_pending` bounds how many messages are in flight, and so this process's memory.
 */
export const CONSUMER_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliver: 10,
  backoffMs: [1_000, 2_000, 5_000, 10_000, 30_000],
  maxAckPending: 2_000,
  batchSize: 500,
} as const;

/** Creates the durable pull consumer if missing, or updates its settings. */
export async function ensureDurableConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<void> {
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(CONSUMER_DEFAULTS.ackWaitMs),
    max_deliver: CONSUMER_DEFAULTS.maxDeliver,
    backoff: CONSUMER_DEFAULTS.backoffMs.map(nanos),
    max_ack_pending: CONSUMER_DEFAULTS.maxAckPending,
    ...(spec.filterSubjects?.length === 1 ? { filter_subject: spec.filterSubjects[0] } : {}),
    ...(spec.filterSubjects && spec.filterSubjects.length > 1 ? { filter_subjects: spec.filterSubjects } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    const { durable_name: _name, deliver_policy: _deliver, ...updatable } = config;
    await jsm.consumers.update(spec.stream, spec.durable, updatable);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
    await jsm.consumers.add(spec.stream, config);
  }
}

/**
 * Pulls from one or more durable consumers and hands their messages to one worker in batches: while a
 * batch is in its transaction, the next messages queue up, so load produces big batches and an idle system
 * applies a single message at once (no waiting for a batch to fill).
 *
 * Messages that are not valid events (bad JSON, unknown type or version, failing schema) are terminated:
 * redelivering them cannot help, and they must not block the stream. A failed transaction naks its batch
 * for a later redelivery (with the consumer's backoff).
 */
export class BatchingConsumer {
  private readonly queue: JsMsg[] = [];
  private readonly subscriptions: ConsumerMessages[] = [];
  private working: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly specs: readonly DurableConsumerSpec[],
    private readonly handle: BatchHandler,
    private readonly observer?: ConsumerObserver,
    private readonly batchSize: number = CONSUMER_DEFAULTS.batchSize,
  ) {}

  async start(): Promise<void> {
    for (const spec of this.specs) {
      const consumer = await this.js.consumers.get(spec.stream, spec.durable);
      const messages = await consumer.consume({
        max_messages: this.batchSize,
        callback: (msg) => {
          this.queue.push(msg);
          this.kick();
        },
      });
      this.subscriptions.push(messages);
    }
  }

  /** Stops pulling, finishes the batch in progress and naks what is still queued (redelivered later). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.subscriptions.map((s) => s.close()));
    await this.working;
    for (const msg of this.queue.splice(0)) msg.nak();
  }

  private kick(): void {
    if (this.working || this.stopped) return;
    this.working = this.drain().finally(() => {
      this.working = undefined;
      if (this.queue.length > 0 && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, this.batchSize);
      const valid: { msg: JsMsg; event: EventEnvelope }[] = [];
      for (const msg of batch) {
        try {
          valid.push({ msg, event: parseEnvelope(msg.data) });
        } catch (error) {
          const reason = error instanceof InvalidEventError ? error.message : String(error);
          this.observer?.rejected(reason, msg.subject);
          console.warn(`[consumer] terminated ${msg.subject} #${msg.seq}: ${reason}`);
          msg.term(reason);
        }
      }
      if (valid.length === 0) continue;
      try {
        await this.handle(valid.map((v) => v.event));
        for (const { msg } of valid) msg.ack();
        this.observer?.applied(valid.length);
      } catch (error) {
        this.observer?.failed(error as Error);
        console.warn(`[consumer] batch of ${valid.length} failed, will be redelivered: ${(error as Error).message}`);
        for (const { msg } of valid) msg.nak(CONSUMER_DEFAULTS.backoffMs[0]);
      }
    }
  }
}
