import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type ConsumerMessages,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { EventEnvelope } from '../contracts/index.js';
import { isTransientDatabaseError } from '../database/postgres.js';
import { doublingDelay, retry, worthReporting } from '../runtime/retry.js';
import {
  decodeEvent,
  type BatchDecoder,
  type DeadLetterReason,
  type Decoded,
  type MessageDecoder,
  type RefusalReason,
} from './decode-event.js';
import type { DeadLetterSink } from './dead-letters.js';
import { isPermissionViolation } from './streams.js';

/**
 * Where a consumed message sits: its stream and sequence there. A redelivery has the same position; a copy of
 * the same event published again (a replay) has a new one.
 */
export interface StreamPosition {
  readonly stream: string;
  readonly seq: number;
}

/** An event of the batch (by its index) that the handler refused; the consumer dead-letters it after the commit. */
export interface RefusedEvent {
  readonly index: number;
  readonly reason: RefusalReason;
  readonly detail: string;
}

/**
 * Applies a batch of valid events in ONE database transaction; throwing rolls the whole batch back. `positions`
 * runs parallel to `events` (absent when an event is applied from elsewhere, such as a dead-letter replay).
 * Returns the events it refused, if any: the others are acknowledged, the refused ones dead-lettered.
 */
export type BatchHandler<T = EventEnvelope> = (
  events: readonly T[],
  positions?: readonly StreamPosition[],
) => Promise<void | readonly RefusedEvent[]>;

/** What a consumer reports to metrics. */
export interface ConsumerObserver {
  applied(count: number): void;
  /** `reason` explains; `code` is the stable rejection reason (`SCHEMA_VIOLATION`, `UNSIGNED`, `BAD_SIGNATURE`, …). */
  rejected(reason: string, subject: string, code: DeadLetterReason): void;
  failed(error: Error): void;
  /** A message was copied to the dead-letter stream (and then terminated). */
  deadLettered?(consumer: string, reason: DeadLetterReason): void;
  /** A batch of `events` committed after `seconds` in the handler (the attempt that succeeded). */
  batchApplied?(events: number, seconds: number): void;
}

/** How a BatchingConsumer turns messages into values and where it puts the ones it gives up on. */
export interface BatchingConsumerOptions<T> {
  /** The single poison check; events by default. */
  readonly decode?: MessageDecoder<T>;
  /** The same check for a whole batch at once (used instead of `decode` when given; `decode` if it throws). */
  readonly decodeBatch?: BatchDecoder<T>;
  /** Where poison and messages out of deliveries go; without one they are only terminated and logged. */
  readonly deadLetters?: DeadLetterSink;
  readonly batchSize?: number;
}

export interface DurableConsumerSpec {
  /** The stream to read and the durable consumer's name on it. */
  readonly stream: string;
  readonly durable: string;
  /** Only this subject filter (default: the whole stream). One filter: nats-server 2.9 has no filter_subjects. */
  readonly filterSubject?: string;
  /** Deliveries before a failing message is dead-lettered (default CONSUMER_DEFAULTS.maxDeliver; -1: no limit). */
  readonly maxDeliver?: number;
  /** The server's ack deadline (default CONSUMER_DEFAULTS.ackWaitMs); the consumer extends it every third of it. */
  readonly ackWaitMs?: number;
}

/**
 * The consumer settings, chosen deliberately:
 * - explicit ack, sent only after the batch's transaction committed (at-least-once; the handler's inbox
 *   makes a redelivery change nothing);
 * - `ack_wait` 30 s, and every message the consumer holds (queued, or in the batch being applied) has its
 *   deadline extended every 10 s, so a message is not redelivered while it waits or is applied, however long
 *   the batch (no server-side `backoff` list: the server would replace `ack_wait` with its first step);
 * - `max_deliver` bounded; a message that fails on its own is negatively acknowledged with a growing delay
 *   (1 s, 2 s, 4 s … capped at 60 s), about 15 minutes of retries in all;
 * - `max_ack_pending` bounds how many messages are in flight, and so this process's memory;
 * - each pull request expires after 5 s (`pullExpiresMs`; nats.js's default is 30 s). An idle consumer pulls
 *   again that often and hears a heartbeat every 2.5 s. After a reconnect, nats.js looks the consumer up before
 *   it pulls again, and waits between half and one and a half expiries after a failed lookup. With 30 s, a
 *   consumer that reconnected before JetStream answered (a cluster still electing its leaders after a restart)
 *   applied nothing for 15–45 s.
 * A database outage does not burn deliveries: the batch is kept and retried in-process (see below).
 */
export const CONSUMER_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliver: 20,
  maxRetryDelayMs: 60_000,
  maxAckPending: 10_000,
  batchSize: 5_000,
  pullExpiresMs: 5_000,
} as const;

/** The pauses while the database or the dead-letter stream is away: 200 ms doubling to 5 s. */
const OUTAGE_RETRY_DELAY = doublingDelay(200, 5000);

/** Messages decoded at a time: small enough to start on arrivals at once, big enough to keep threads busy. */
const DECODE_CHUNK = 500;

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
    ack_wait: nanos(spec.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs),
    max_deliver: spec.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver,
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
 * - Not a valid event (bad JSON, unknown type or version, failing schema: one `decode` step says so):
 *   copied to the dead-letter stream with its reason (PubAck awaited), then terminated at once, since
 *   redelivery cannot help, and it must not block the stream.
 * - Valid, but refused by the handler (a replay of an event it applied from another message, or a version not
 *   newer than the one held): once the batch committed, the others are acknowledged and each refused one is
 *   dead-lettered with the reason and detail the handler gave.
 * - The database is unavailable: the batch is kept and retried here with backoff (its messages' ack deadlines
 *   are extended, like those of every message held), until it commits or the consumer stops (then redelivered).
 * - Any other failure: the batch is split in halves, recursively, down to the event that fails, so one bad event
 *   cannot hold back the others; the one that fails is negatively acknowledged for a delayed redelivery, and
 *   on its last allowed delivery dead-lettered (MAX_DELIVERIES, with the last error) and terminated.
 * - The dead-letter stream is unavailable: the message is kept and dead-lettering retried here, like a
 *   database outage, so no delivery is burnt and nothing is terminated before it is safely copied.
 */
export class BatchingConsumer<T = EventEnvelope> {
  private readonly queue: JsMsg[] = [];
  /** Messages taken from the queue and not yet acknowledged, negatively acknowledged or terminated. */
  private readonly inFlight = new Set<JsMsg>();
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private readonly subscriptions: ConsumerMessages[] = [];
  /** Valid events decoded from the queue, waiting for the next batch. */
  private readonly decoded: Delivery<T>[] = [];
  /**
   * Decodes what arrived, a chunk at a time, as it arrives: under load that happens while a batch is in its
   * transaction (signatures on the batch decoder's threads, parsing here between the transaction's replies, a
   * chunk at a time), so a batch is ready to apply when the previous one commits.
   */
  private readonly decoder = new OneAtATime(
    () => this.decodeQueued(),
    () => this.queue.length > 0 && !this.stopped,
  );
  /**
   * Applies everything decoded so far as one batch (up to `batchSize`), then again: a batch is what was decoded
   * while the previous one was in its transaction, so load makes big batches and an idle system applies a single
   * message at once.
   */
  private readonly applier = new OneAtATime(
    () => this.applyDecoded(),
    () => this.decoded.length > 0 && !this.stopped,
  );
  private stopped = false;
  private readonly decode: MessageDecoder<T>;
  private readonly decodeBatch: BatchDecoder<T> | undefined;
  private readonly deadLetters: DeadLetterSink | undefined;
  private readonly batchSize: number;
  private readonly maxDeliverOf = new Map<string, number>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly specs: readonly DurableConsumerSpec[],
    private readonly handle: BatchHandler<T>,
    private readonly observer?: ConsumerObserver,
    options: BatchingConsumerOptions<T> = {},
  ) {
    this.decode = options.decode ?? (decodeEvent as unknown as MessageDecoder<T>);
    this.decodeBatch = options.decodeBatch;
    this.deadLetters = options.deadLetters;
    this.batchSize = options.batchSize ?? CONSUMER_DEFAULTS.batchSize;
    for (const spec of specs)
      this.maxDeliverOf.set(`${spec.stream}/${spec.durable}`, spec.maxDeliver ?? CONSUMER_DEFAULTS.maxDeliver);
  }

  async start(): Promise<void> {
    // Every message held here, queued or in a batch being applied, has its ack deadline pushed back a third of
    // `ack_wait` before it passes: under a large backlog a message can wait behind a whole batch (and a batch of
    // thousands of events take many seconds), and must not be redelivered meanwhile.
    this.keepAlive = setInterval(
      () => {
        for (const msg of this.queue) msg.working();
        for (const msg of this.inFlight) msg.working();
      },
      Math.min(...this.specs.map((spec) => spec.ackWaitMs ?? CONSUMER_DEFAULTS.ackWaitMs)) / 3,
    );
    this.keepAlive.unref();
    for (const spec of this.specs) {
      const consumer = await this.js.consumers.get(spec.stream, spec.durable);
      const messages = await consumer.consume({
        max_messages: this.batchSize,
        expires: CONSUMER_DEFAULTS.pullExpiresMs,
        callback: (msg) => {
          this.queue.push(msg);
          this.decoder.kick();
        },
      });
      this.subscriptions.push(messages);
    }
  }

  /** Stops pulling, finishes the chunk being decoded and the batch in progress, and naks the rest (redelivered later). */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.subscriptions.map((s) => s.close()));
    await this.decoder.idle;
    await this.applier.idle;
    clearInterval(this.keepAlive);
    for (const msg of this.queue.splice(0)) msg.nak();
    for (const { msg } of this.decoded.splice(0)) this.settle(msg, 'nak');
  }

  /** Acknowledges, negatively acknowledges (with an optional delay) or terminates a message taken from the queue. */
  private settle(msg: JsMsg, how: 'ack' | 'nak' | 'term', delayMs?: number): void {
    this.inFlight.delete(msg);
    if (how === 'ack') msg.ack();
    else if (how === 'term') msg.term();
    else msg.nak(delayMs);
  }

  private async decodeQueued(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const chunk = this.queue.splice(0, DECODE_CHUNK);
      for (const msg of chunk) this.inFlight.add(msg);
      this.decoded.push(...(await this.validate(chunk)));
      this.applier.kick();
    }
  }

  private async applyDecoded(): Promise<void> {
    while (this.decoded.length > 0 && !this.stopped) await this.apply(this.decoded.splice(0, this.batchSize));
  }

  private async validate(batch: JsMsg[]): Promise<Delivery<T>[]> {
    const decoded = (await this.decodeAll(batch)) ?? batch.map((msg) => this.decodeOne(msg));
    const valid: Delivery<T>[] = [];
    for (const [i, msg] of batch.entries()) {
      const result = decoded[i]!;
      if (result.ok) {
        valid.push({ msg, event: result.value });
        continue;
      }
      this.observer?.rejected(result.detail, msg.subject, result.reason);
      await this.giveUp(msg, result.reason, result.detail);
    }
    return valid;
  }

  /** The batch decoder's answers, or undefined (without one, or if it failed: then each message is decoded alone). */
  private async decodeAll(batch: JsMsg[]): Promise<Decoded<T>[] | undefined> {
    if (!this.decodeBatch) return undefined;
    try {
      return await this.decodeBatch(batch);
    } catch (error) {
      console.warn(`[consumer] batch decoder failed, decoding one by one: ${(error as Error).message}`);
      return undefined;
    }
  }

  private decodeOne(msg: JsMsg): Decoded<T> {
    try {
      return this.decode(msg);
    } catch (error) {
      return { ok: false, reason: 'NOT_AN_ENVELOPE', detail: `decoder failed: ${(error as Error).message}` };
    }
  }

  /**
   * Dead-letters a message (retrying until the PubAck arrives, keeping the message's ack deadline alive), then
   * terminates it. Stopping meanwhile naks it instead: it comes back and is dead-lettered then.
   */
  private async giveUp(msg: JsMsg, reason: DeadLetterReason, detail: string): Promise<void> {
    const where = `${msg.subject} (stream ${msg.info.stream} seq ${msg.seq}, delivery ${msg.info.deliveryCount})`;
    const deadLetters = this.deadLetters;
    if (deadLetters) {
      try {
        await retry(() => deadLetters.deadLetter(msg, reason, detail), {
          delayMs: OUTAGE_RETRY_DELAY,
          stopped: () => this.stopped,
          onFailure: (error, attempt) => {
            if (worthReporting(attempt))
              console.warn(`[consumer] cannot dead-letter ${where} yet, retrying: ${(error as Error).message}`);
          },
        });
      } catch {
        this.settle(msg, 'nak');
        return;
      }
      console.warn(`[consumer] dead-lettered ${where}: ${reason}: ${detail}`);
    } else {
      console.warn(`[consumer] terminated ${where}: ${reason}: ${detail}`);
    }
    this.observer?.deadLettered?.(msg.info.consumer, reason);
    // nats-server 2.9 ignores a +TERM that carries a reason: the reason travels in the dead letter instead.
    this.settle(msg, 'term');
  }

  private isLastDelivery(msg: JsMsg): boolean {
    const max = this.maxDeliverOf.get(`${msg.info.stream}/${msg.info.consumer}`) ?? CONSUMER_DEFAULTS.maxDeliver;
    return max > 0 && msg.info.deliveryCount >= max;
  }

  private async apply(deliveries: Delivery<T>[]): Promise<void> {
    let refused: readonly RefusedEvent[];
    let seconds: number;
    try {
      // A database outage keeps the batch here (no delivery burnt) until it commits or the consumer stops.
      ({ refused, seconds } = await retry(() => this.applyOnce(deliveries), {
        delayMs: OUTAGE_RETRY_DELAY,
        stopped: () => this.stopped,
        giveUp: (error) => !isTransientDatabaseError(error),
        onFailure: (error, attempt) => {
          this.observer?.failed(error as Error);
          if (worthReporting(attempt))
            console.warn(
              `[consumer] database unavailable, retrying a batch of ${deliveries.length}: ${(error as Error).message}`,
            );
        },
      }));
    } catch (error) {
      this.observer?.failed(error as Error);
      if (this.stopped) {
        for (const { msg } of deliveries) this.settle(msg, 'nak');
        return;
      }
      if (deliveries.length > 1) {
        // Halves, recursively: the events that are fine commit in a few big transactions, and the one that
        // fails is isolated in about log2(n) steps rather than after n single-event transactions.
        const half = Math.ceil(deliveries.length / 2);
        await this.apply(deliveries.slice(0, half));
        await this.apply(deliveries.slice(half));
        return;
      }
      const { msg } = deliveries[0]!;
      if (this.isLastDelivery(msg) && this.deadLetters) {
        await this.giveUp(msg, 'MAX_DELIVERIES', (error as Error).message);
        return;
      }
      const delay = redeliveryDelayMs(msg.info.deliveryCount);
      console.warn(
        `[consumer] ${msg.subject} (stream seq ${msg.seq}) failed (delivery ${msg.info.deliveryCount}), redelivery in ${delay} ms: ${(error as Error).message}`,
      );
      this.settle(msg, 'nak', delay);
      return;
    }
    this.observer?.batchApplied?.(deliveries.length, seconds);
    // Committed: the refused events changed nothing and go to the dead-letter stream; the others are done.
    const refusalOf = new Map(refused.map((r) => [r.index, r]));
    for (const [index, { msg }] of deliveries.entries()) if (!refusalOf.has(index)) this.settle(msg, 'ack');
    this.observer?.applied(deliveries.length - refusalOf.size);
    for (const [index, { reason, detail }] of refusalOf) {
      const { msg } = deliveries[index]!;
      this.observer?.rejected(detail, msg.subject, reason);
      await this.giveUp(msg, reason, detail);
    }
  }

  /** Applies the batch once; says what the handler refused and how long the commit took (seconds). */
  private async applyOnce(deliveries: Delivery<T>[]): Promise<{ refused: readonly RefusedEvent[]; seconds: number }> {
    const started = performance.now();
    const refused =
      (await this.handle(
        deliveries.map((d) => d.event),
        deliveries.map(({ msg }) => ({ stream: msg.info.stream, seq: msg.seq })),
      )) ?? [];
    return { refused, seconds: (performance.now() - started) / 1000 };
  }
}

interface Delivery<T> {
  readonly msg: JsMsg;
  readonly event: T;
}

/** Runs `work` one run at a time: kicked while it runs, it runs again after if `more()` still holds. */
class OneAtATime {
  private running: Promise<void> | undefined;

  constructor(
    private readonly work: () => Promise<void>,
    private readonly more: () => boolean,
  ) {}

  kick(): void {
    if (this.running || !this.more()) return;
    this.running = this.work().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  /** Resolves when the current run (if any) has ended. */
  get idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
