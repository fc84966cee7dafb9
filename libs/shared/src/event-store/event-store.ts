import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { contractOf, isEventType, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import { UNIQUE_VIOLATION, violatedConstraint, sqlState, type Tx } from '../database/postgres.js';

/** An event as stored: the domain event plus its identity, position and metadata. */
export interface StoredEvent<E extends PublishedEvent = PublishedEvent> {
  readonly eventId: string;
  readonly type: E['type'];
  readonly data: E['data'];
  readonly schemaVersion: number;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly globalPosition: string;
  readonly occurredAt: string;
  readonly metadata: EventMetadata;
}

/** Someone else appended to the stream since it was read; reload, decide again, retry. */
export class VersionConflictError extends Error {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is no longer at version ${expectedVersion}`);
    this.name = 'VersionConflictError';
  }
}

/** What an append needs besides the events: when they happened and what caused them. */
export interface AppendContext {
  readonly occurredAt: Date;
  readonly metadata: EventMetadata;
}

/** A row of the events table as the driver returns it. */
export interface EventRow {
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  stream_id: string;
  stream_version: number;
  global_position: string;
  occurred_at: Date;
  metadata: EventMetadata;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    eventId: row.event_id,
    type: row.event_type as PublishedEvent['type'],
    data: row.data as PublishedEvent['data'],
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: String(row.global_position),
    occurredAt: row.occurred_at.toISOString(),
    metadata: row.metadata,
  };
}

export const EVENT_COLUMNS =
  'event_id, event_type, schema_version, data, stream_id, stream_version, global_position, occurred_at, metadata';

/**
 * The append-only event store in PostgreSQL. Optimistic concurrency comes from the unique
 * (stream_id, stream_version) constraint: of two appends at the same expected version exactly one wins.
 */
export class EventStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` in one transaction; everything it appends commits (and is published) together. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(manager));
  }

  async readStream<E extends PublishedEvent = PublishedEvent>(
    streamId: string,
    tx: Tx = this.dataSource,
  ): Promise<StoredEvent<E>[]> {
    const rows: EventRow[] = await tx.query(`SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`, [
      streamId,
    ]);
    return rows.map(toStoredEvent) as StoredEvent<E>[];
  }

  /**
   * Appends events to a stream that must be at `expectedVersion` (0 = the stream must not exist).
   * Throws VersionConflictError when another writer got there first.
   */
  async append<E extends PublishedEvent>(
    tx: Tx,
    streamId: string,
    expectedVersion: number,
    events: readonly E[],
    context: AppendContext,
  ): Promise<StoredEvent<E>[]> {
    if (events.length === 0) return [];
    const values: unknown[] = [];
    const tuples = events.map((event, i) => {
      if (!isEventType(event.type)) throw new Error(`cannot append unknown event type ${String(event.type)}`);
      values.push(
        randomUUID(),
        streamId,
        expectedVersion + i + 1,
        event.type,
        contractOf(event.type).schemaVersion,
        JSON.stringify(event.data),
        JSON.stringify(context.metadata),
        context.occurredAt,
      );
      const p = i * 8;
      return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}::jsonb, $${p + 7}::jsonb, $${p + 8})`;
    });
    try {
      const rows: EventRow[] = await tx.query(
        `INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
         VALUES ${tuples.join(', ')} RETURNING ${EVENT_COLUMNS}`,
        values,
      );
      return rows.map(toStoredEvent) as StoredEvent<E>[];
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION && violatedConstraint(error) === 'events_stream_version_unique') {
        throw new VersionConflictError(streamId, expectedVersion);
      }
      throw error;
    }
  }
}
