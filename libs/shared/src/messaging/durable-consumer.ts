import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type ConsumerMessages,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { parseEnvelope, InvalidEventError, type EventEnvelope } from '../contracts/index.js';
import { isTransientDatabaseError } from '../database/postgres.js';
import { isPermissionViolation } from './streams.js';

/** Applies a batch of valid events in ONE database transaction; throwing rolls the whole batch back. */
export type BatchHandler = (events: readonly EventEnvelope[]) => Promise<void>;

/**
 * Turns a delivered message into a valid event, or throws InvalidEventError (whose `reason` is the code counted
 * in metrics). The services verify signatures here (decodeVerifiedEvent); the default only parses the body.
 */
export type EventDecoder = (msg: JsMsg) => EventEnvelope;

/** What a consumer reports to metrics. */
export interface ConsumerObserver {
  applied(count: number): void;
  /** `reason` explains; `code` is the stable rejection reason (`malformed`, `unsigned`, `bad_signature`, …). */
  rejected(reason: string, subject: string, code: string): void;
  failed(error: Error): void;
}

export interface DurableConsumerSpec {
  /** The stream to read and the durable consumer's name on it. */
  readonly stream: string;
  readonly durable: string;
  /** Only this subject filter (default: the whole stream). One filter: nats-server 2.9 has no filter_subjects. */
  readonly filterSubject?: string;
}

/**
 * The consumer settings, chosen deliberately:
 * - explicit ack, sent only after the batch's transaction committed (at-least-once; the handler's inbox
 *   makes a redelivery change nothing);
 * - `ack_wait` 30 s: longer than any batch takes, so a message is not redelivered while it is being applied
 *   (no server-side `backoff` list: the server would replace `ack_wait` with its first step);
 * - `max_deliver` bounded; a message that fails on its own is negatively acknowledged with a growing delay
 *   (1 s, 2 s, 4 s … capped at 60 s), about 15 minutes of retries in all;
 * - `max_ack_pending` bounds how many messages are in flight, and so this process's memory.
 * A database outage does not burn deliveries: the batch is kept and retried in-process (see below).
 */
export const CONSUMER_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliver: 20,
  maxRetryDelayMs: 60_000,
  maxAckPending: 2_000,
  batchSize: 500,
} as const;

/** The delay before redelivering a message that failed on its `deliveryCount`-th delivery. */
export function redeliveryDelayMs(deliveryCount: number): number {
  return Math.min(1000 * 2 ** Math.max(0, deliveryCount - 1), CONSUMER_DEFAULTS.maxRetryDelayMs);
}

/**
 * Creates the durable pull consumer if missing, or updates its settings. Without the right to administer
 * consumers (a service's locked-down bus user), an existing consumer is used as the setup step made it.
 */
export async function ensureDurableConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<void> {
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(CONSUMER_DEFAULTS.ackWaitMs),
    max_deliver: CONSUMER_DEFAULTS.maxDeliver,
    max_ack_pending: CONSUMER_DEFAULTS.maxAckPending,
    ...(spec.filterSubject ? { filter_subject: spec.filterSubject } : {}),
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    const { durable_name: _name, deliver_policy: _deliver, ...updatable } = config;
    await jsm.consumers.update(spec.stream, spec.durable, updatable).catch((error: unknown) => {
      if (!isPermissionViolation(error)) throw error;
    });
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
 * - Not a valid event (bad JSON, unknown type or version, failing schema): terminated at once, since
 *   redelivery cannot help, and it must not block the stream.
 * - The database is unavailable: the batch is kept and retried here with backoff, its messages' ack
 *   deadlines extended, until it commits or the consumer stops (then they are redelivered).
 * - Any other failure: the batch is split and each event applied in its own transaction, so one bad event
 *   cannot hold back the others; the one that fails is negatively acknowledged for a delayed redelivery.
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
    private readonly decode: EventDecoder = (msg) => parseEnvelope(msg.data),
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
      const valid = this.validate(this.queue.splice(0, this.batchSize));
      if (valid.length > 0) await this.apply(valid);
    }
  }

  private validate(batch: JsMsg[]): Delivery[] {
    const valid: Delivery[] = [];
    for (const msg of batch) {
      try {
        valid.push({ msg, event: this.decode(msg) });
      } catch (error) {
        const reason = error instanceof InvalidEventError ? error.message : String(error);
        this.observer?.rejected(reason, msg.subject, error instanceof InvalidEventError ? error.reason : 'malformed');
        console.warn(`[consumer] terminated ${msg.subject} (stream seq ${msg.seq}): ${reason}`);
        // nats-server 2.9 ignores a +TERM that carries a reason, so the reason goes to the log only.
        msg.term();
      }
    }
    return valid;
  }

  private async apply(deliveries: Delivery[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.handle(deliveries.map((d) => d.event));
        for (const { msg } of deliveries) msg.ack();
        this.observer?.applied(deliveries.length);
        return;
      } catch (error) {
        this.observer?.failed(error as Error);
        if (isTransientDatabaseError(error) && !this.stopped) {
          if (attempt === 1 || attempt % 10 === 0) {
            console.warn(
              `[consumer] database unavailable, retrying a batch of ${deliveries.length}: ${(error as Error).message}`,
            );
          }
          for (const { msg } of deliveries) msg.working();
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 5000)));
          continue;
        }
        if (this.stopped) {
          for (const { msg } of deliveries) msg.nak();
          return;
        }
        if (deliveries.length > 1) {
          for (const delivery of deliveries) await this.apply([delivery]);
          return;
        }
        const { msg, event } = deliveries[0]!;
        const delay = redeliveryDelayMs(msg.info.deliveryCount);
        console.warn(
          `[consumer] ${event.type} ${event.eventId} failed (delivery ${msg.info.deliveryCount} of ${CONSUMER_DEFAULTS.maxDeliver}), redelivery in ${delay} ms: ${(error as Error).message}`,
        );
        msg.nak(delay);
        return;
      }
    }
  }
}

interface Delivery {
  readonly msg: JsMsg;
  readonly event: EventEnvelope;
}
