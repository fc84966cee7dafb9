import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { BusNames, EventSource } from '../contracts/index.js';
import { DEFAULT_STREAM_MAX_BYTES } from '../config/service-config.js';

/**
 * JetStream's `Nats-Msg-Id` de-duplication window. It must exceed the relay's retry horizon
 * (RELAY_RETRY_HORIZON_MS, 8 s) so every copy a live relay makes is dropped; copies made after a longer
 * outage, or by `npm run republish`, are absorbed by the consumers' inboxes instead. Two minutes keeps the
 * server's id table small (it holds every id published within the window).
 */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** How long streams keep messages; the event store in PostgreSQL remains the source of truth. */
export const STREAM_MAX_AGE_MS = 365 * 24 * 3600_000;

/** The byte limit of a stream (STREAM_MAX_BYTES); past it the oldest messages are discarded. */
export interface StreamLimits {
  readonly maxBytes: number;
  /** STREAM_REPLICAS: copies in a JetStream cluster (1 on a single server). */
  readonly replicas?: number;
}

/** 1 GiB a stream, what STREAM_MAX_BYTES defaults to. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxBytes: DEFAULT_STREAM_MAX_BYTES };

/**
 * The JetStream settings every event stream gets, chosen deliberately:
 * - file storage and limits retention: events stay for late and rebuilding consumers, not just until acked;
 * - a 2-minute duplicate window: the relay republishes unacknowledged events within seconds of a retry,
 *   so `Nats-Msg-Id` de-duplication absorbs every republish it makes (DUPLICATE_WINDOW_MS);
 * - a bounded age (one year) and size (STREAM_MAX_BYTES, default 1 GiB), discarding the oldest messages
 *   first, so no publisher can fill the disk; the event store in PostgreSQL remains the source of truth and can
 *   republish from any position. A durable consumer that was behind the discarded messages continues at the
 *   stream's first remaining one (it never sees the discarded ones: republish them, docs/decisions.md §37).
 *   nats-server reserves `max_bytes` of its JetStream store per stream when the stream is created.
 */
export function eventStreamConfig(
  names: BusNames,
  source: EventSource,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Partial<StreamConfig> & { name: string } {
  return {
    name: names.stream(source),
    subjects: [names.allSubjects(source)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(STREAM_MAX_AGE_MS),
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas ?? 1,
  };
}

/**
 * The namespace's dead-letter stream (`dead-letter.<consumer>`): the same durable settings as an event stream,
 * so a dead letter survives restarts and stays for a year (or until STREAM_MAX_BYTES of newer ones push it out;
 * its index row in the consumer's database stays); `Nats-Msg-Id` = `<stream>:<seq>:<consumer>` of the
 * original makes a consumer's dead-lettering the same message twice store it once.
 */
export function deadLetterStreamConfig(
  names: BusNames,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Partial<StreamConfig> & { name: string } {
  return {
    name: names.deadLetterStream,
    subjects: [names.allDeadLetterSubjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    max_age: nanos(STREAM_MAX_AGE_MS),
    max_bytes: limits.maxBytes,
    num_replicas: limits.replicas ?? 1,
  };
}

/**
 * True for the error a bus user gets for a JetStream call its permissions do not allow (stream and consumer
 * administration, for the services' users of deploy/nats/permissions.conf).
 */
export function isPermissionViolation(error: unknown): boolean {
  return /permissions violation/i.test((error as Error)?.message ?? '');
}

/**
 * Creates a source's stream if it is missing, or brings its settings up to date. A service whose bus user may
 * not administer streams (the locked-down deployment) leaves an existing stream as the setup step made it, and
 * fails (so its start-up retries) while the stream is missing. `replicas` (STREAM_REPLICAS) is 1 on a single
 * server, 3 on a 3-node JetStream cluster.
 */
export async function ensureEventStream(
  jsm: JetStreamManager,
  names: BusNames,
  source: EventSource,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Promise<void> {
  await ensureStream(jsm, eventStreamConfig(names, source, limits));
}

/** Creates the namespace's dead-letter stream if it is missing, or brings its settings up to date. */
export async function ensureDeadLetterStream(
  jsm: JetStreamManager,
  names: BusNames,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
): Promise<void> {
  await ensureStream(jsm, deadLetterStreamConfig(names, limits));
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config).catch((error: unknown) => {
      if (!isPermissionViolation(error)) throw error;
    });
  } catch (error) {
    if (!/stream not found/i.test((error as Error).message)) throw error;
    try {
      await jsm.streams.add(config);
    } catch (addError) {
      // Another service instance created it between our two calls.
      if (!/already in use|already exists/i.test((addError as Error).message)) throw addError;
    }
  }
}
