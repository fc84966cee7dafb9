import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { BusNames } from '../contracts/index.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  type EventSigningKey,
} from '../event-signing/event-signature.js';
import { EVENT_COLUMNS, toStoredEvent, type EventRow } from './event-store.js';
import { RELAY_PUBLISH_TIMEOUT_MS, envelopeOf } from './outbox-relay.js';

/** Anything that runs a parameterised query and returns rows: a pg.Client or pg.Pool. */
export interface Queryable {
  query<R extends object>(sql: string, params: unknown[]): Promise<{ rows: R[] }>;
}

export interface RepublishOptions {
  readonly db: Queryable;
  readonly js: JetStreamClient;
  readonly names: BusNames;
  /** The producer's event-signing key: consumers refuse unsigned events, so a copy must be signed like the original. */
  readonly signer: EventSigningKey;
  /** First global position to publish (inclusive). */
  readonly from: bigint;
  /** Last global position to publish (inclusive); the end of the store when absent. */
  readonly to?: bigint;
  readonly batchSize?: number;
  readonly onProgress?: (progress: RepublishProgress) => void;
}

export interface RepublishProgress {
  /** Events read so far, and how many the range holds. */
  readonly done: number;
  readonly total: number;
  /** Of those, stored again by JetStream, and dropped by it as duplicates (an id seen within its window). */
  readonly stored: number;
  readonly duplicates: number;
  readonly lastPosition: bigint | null;
}

/**
 * Publishes a service's stored events again, in global-position order, each signed and with `Nats-Msg-Id` = its
 * event id, exactly as the relay did: for when JetStream lost events (storage lost, stream re-created). A copy of an id JetStream
 * still remembers (within the duplicate window) is dropped by it; any other copy reaches the consumers, whose
 * inboxes make it change nothing. So republishing any range, any number of times, is safe.
 */
export async function republishEvents(options: RepublishOptions): Promise<RepublishProgress> {
  const { db, js, names, from, to, signer } = options;
  const batchSize = options.batchSize ?? 1000;
  const upper = to ?? null;
  const { rows: counted } = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM events WHERE global_position >= $1 AND ($2::bigint IS NULL OR global_position <= $2)`,
    [from.toString(), upper?.toString() ?? null],
  );
  let progress: RepublishProgress = { done: 0, total: Number(counted[0]!.n), stored: 0, duplicates: 0, lastPosition: null };
  let after = from - 1n;
  for (;;) {
    const { rows } = await db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
        WHERE global_position > $1 AND ($2::bigint IS NULL OR global_position <= $2)
        ORDER BY global_position LIMIT $3`,
      [after.toString(), upper?.toString() ?? null, batchSize],
    );
    if (rows.length === 0) return progress;
    const acks = await Promise.all(
      rows.map((row) => {
        const envelope = envelopeOf(toStoredEvent(row));
        const subject = names.subjectOf(envelope);
        const signed = signEvent(envelope, subject, signer);
        const headers = natsHeaders();
        headers.set(EVENT_KEY_ID_HEADER, signed.keyId);
        headers.set(EVENT_SIGNATURE_HEADER, signed.signature);
        return js.publish(subject, signed.body, { msgID: envelope.eventId, timeout: RELAY_PUBLISH_TIMEOUT_MS, headers });
      }),
    );
    const duplicates = acks.filter((a) => a.duplicate).length;
    after = BigInt(rows[rows.length - 1]!.global_position);
    progress = {
      done: progress.done + rows.length,
      total: progress.total,
      stored: progress.stored + rows.length - duplicates,
      duplicates: progress.duplicates + duplicates,
      lastPosition: after,
    };
    options.onProgress?.(progress);
  }
}
