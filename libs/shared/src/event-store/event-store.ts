import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { contractOf, isEventType, type EventMetadata, type PublishedEvent } from '../contracts/index.js';
import {
  UNIQUE_VIOLATION,
  isTransientDatabaseError,
  queryPrepared,
  violatedConstraint,
  sqlState,
  type Tx,
} from '../database/postgres.js';
import { BoundedMap } from '../runtime/bounded-map.js';
import { notifyChannelOf } from './event-store.migration.js';

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

/** Events to append to one stream, expected at `expectedVersion` (0 = the stream must not exist yet). */
export interface StreamAppend<E extends PublishedEvent = PublishedEvent> {
  readonly streamId: string;
  readonly expectedVersion: number;
  readonly events: readonly E[];
  readonly context: AppendContext;
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

/** A stream's events in order (a named statement, `event-store.read-stream`). */
export const READ_STREAM_SQL = `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version`;

/** The last committed event in the outbox's order (a named statement, `event-store.newest-event`). */
export const NEWEST_EVENT_SQL = 'SELECT event_id FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1';

/**
 * The rows travel as one JSON document: no per-element array escaping, whatever the batch size. Only what the
 * database assigns comes back: the appender has the rest, and returning `data` would make PostgreSQL print every
 * document again and the driver parse it (the projector's batches append hundreds of whole effective sets).
 */
const APPEND = `INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(event_id uuid, stream_id text, stream_version int,
    event_type text, schema_version int, data jsonb, metadata jsonb, occurred_at timestamptz)
  RETURNING event_id, global_position`;

/** What the append returns of each row it stored. */
interface AppendedRow {
  event_id: string;
  global_position: string;
}

/** How many appended events' data an AppendedData holds for the relay (a few kilobytes each at most). */
export const APPENDED_DATA_ENTRIES = 5_000;

/**
 * The data of the events this process appended, by event id, held for its own relay, which then publishes them
 * without reading their documents back (OutboxRelay). An event's data never changes once stored, and the relay
 * only publishes committed events, so what a rolled-back append left here is never asked for: it goes when the
 * holder is full, oldest first, like anything the relay did not take (a standby instance's appends). An event
 * not held is read from the outbox.
 */
export class AppendedData {
  private readonly data: BoundedMap<string, unknown>;

  constructor(capacity = APPENDED_DATA_ENTRIES) {
    this.data = new BoundedMap(capacity);
  }

  hold(eventId: string, data: unknown): void {
    this.data.set(eventId, data);
  }

  /** The data of `eventId` if held, no longer held after this. */
  take(eventId: string): unknown {
    const data = this.data.get(eventId);
    this.data.delete(eventId);
    return data;
  }
}

/** The relay of the same process, as the event store sees it: told of each commit while it holds the relay's lock. */
export interface RelayInProcess {
  readonly isLeader: boolean;
  poke(): void;
}

/**
 * The append-only event store in PostgreSQL. Optimistic concurrency comes from the unique
 * (stream_id, stream_version) constraint: of two appends at the same expected version exactly one wins.
 *
 * Each commit that appended events wakes the relay: the relay of this process directly when it holds the relay's
 * lock, else whichever process holds it, by a NOTIFY sent after the commit on the schema's channel (decisions §48).
 * A wake-up that goes astray only leaves the events to the relay's next poll.
 */
export class EventStore {
  /** What this store appended, for the relay of the same process. */
  readonly appended = new AppendedData();
  private relay: RelayInProcess | undefined;
  /** This store's open transactions that appended events: announced once they commit. */
  private readonly appending = new WeakSet<Tx>();
  private readonly notifyChannel: string;

  constructor(private readonly dataSource: DataSource) {
    this.notifyChannel = notifyChannelOf((dataSource.options as { schema?: string }).schema ?? 'public');
  }

  /** Tells `relay` of this store's commits, instead of a NOTIFY, whenever it holds the relay's lock. */
  announceCommitsTo(relay: RelayInProcess): void {
    this.relay = relay;
  }

  /** Runs `work` in one transaction; everything it appends commits (and is published) together. */
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    let tx: Tx | undefined;
    const result = await this.dataSource.transaction((manager) => work((tx = manager)));
    if (tx && this.appending.delete(tx)) this.announceCommit();
    return result;
  }

  /** A stream's events, in `tx` when given, else on a pooled connection outside any transaction. */
  async readStream<E extends PublishedEvent = PublishedEvent>(streamId: string, tx?: Tx): Promise<StoredEvent<E>[]> {
    const name = 'event-store.read-stream';
    const rows = tx
      ? await queryPrepared<EventRow>(tx, name, READ_STREAM_SQL, [streamId])
      : await this.runAlone<EventRow>({ name, text: READ_STREAM_SQL, values: [streamId] });
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
    return this.appendToStreams<E>(tx, [{ streamId, expectedVersion, events, context }]);
  }

  /**
   * Appends to many streams in one statement (each at its `expectedVersion`), all or nothing: the projector's
   * batches write hundreds of small streams at once. Returns the stored events in the order given.
   * Throws VersionConflictError naming a stream another writer got to first.
   */
  async appendToStreams<E extends PublishedEvent>(tx: Tx, appends: readonly StreamAppend<E>[]): Promise<StoredEvent<E>[]> {
    const rows = eventRowsOf(appends);
    if (rows.length === 0) return [];
    try {
      const appended = await queryPrepared<AppendedRow>(tx, 'event-store.append', APPEND, [JSON.stringify(rows)]);
      this.appending.add(tx);
      return this.appendedEvents<E>(rows, appended);
    } catch (error) {
      throw versionConflictOr(error, appends);
    }
  }

  /**
   * Appends to one stream in a statement of its own, with `alongside` (an inline projection's write) as a
   * data-modifying CTE of the same statement: one round trip and one commit, where a transaction costs a BEGIN, a
   * statement each and a COMMIT. Both commit together or not at all, like the statements of a transaction; only
   * for a write that reads nothing it must see in the append's transaction (its own table's row at most, guarded
   * by the version). `alongside` numbers its parameters from $1, as if it ran alone.
   */
  async appendAlone<E extends PublishedEvent>(
    append: StreamAppend<E>,
    alongside: SqlStatement | null,
  ): Promise<StoredEvent<E>[]> {
    const rows = eventRowsOf([append]);
    if (rows.length === 0) return [];
    const statement: SqlStatement = alongside
      ? {
          name: `event-store.append+${alongside.name}`,
          text: `WITH appended AS (${APPEND}), alongside AS (${shiftParameters(alongside.text, 1)})
                 SELECT event_id, global_position FROM appended`,
          values: [JSON.stringify(rows), ...alongside.values],
        }
      : { name: 'event-store.append', text: APPEND, values: [JSON.stringify(rows)] };
    try {
      const stored = this.appendedEvents<E>(rows, await this.runAlone<AppendedRow>(statement));
      this.announceCommit(); // the statement was its own transaction
      return stored;
    } catch (error) {
      throw versionConflictOr(error, [append]);
    }
  }

  /** Wakes the relay after a commit that appended events (see the class comment). */
  private announceCommit(): void {
    if (this.relay?.isLeader) return this.relay.poke();
    this.runAlone({ name: 'event-store.notify', text: "SELECT pg_notify($1, '')", values: [this.notifyChannel] }).catch(
      () => undefined, // the relay's poll finds the events
    );
  }

  /** The stored events of an append that succeeded; their data is held for this process's relay. */
  private appendedEvents<E extends PublishedEvent>(rows: readonly EventInsertRow[], appended: AppendedRow[]): StoredEvent<E>[] {
    for (const row of rows) this.appended.hold(row.event_id, row.data);
    return storedEventsOf<E>(rows, appended);
  }

  /**
   * One statement on a connection of the pool, outside any transaction (the statement is its own): no TypeORM
   * query runner, no BEGIN/COMMIT round trips.
   */
  private async runAlone<Row>(statement: SqlStatement): Promise<Row[]> {
    const driver = this.dataSource.driver as unknown as PooledDriver;
    const [connection, release] = await driver.obtainMasterConnection();
    // A checked-out pg client whose connection breaks while no statement is running emits 'error', and an unheard
    // 'error' ends the process; the pool itself only listens while the client is idle in it. A connection the server
    // ended under a statement (57P01 and the like) fails that statement first and only then closes: released as
    // usable, the pool would hand it to the next caller before it noticed ("Connection terminated unexpectedly",
    // seen in the int spec). Either way the client is released as broken, and the pool drops it at once.
    let broken: unknown;
    const onError = (error: unknown) => (broken = error);
    connection.on('error', onError);
    try {
      const result = await connection.query<Row & pg.QueryResultRow>({
        name: statement.name,
        text: statement.text,
        values: [...statement.values],
      });
      return result.rows;
    } catch (error) {
      if (isTransientDatabaseError(error)) broken ??= error;
      throw error;
    } finally {
      connection.removeListener('error', onError);
      release(broken);
    }
  }

  /**
   * The id of the last committed event in the outbox's order (the order the relay publishes in), or null for an
   * empty store. A consumer that has applied it has applied everything this store committed before it was read,
   * because it receives the stream in that order (and a lost tail is republished in that order too).
   */
  async newestEventId(): Promise<string | null> {
    const rows = await this.runAlone<{ event_id: string }>({
      name: 'event-store.newest-event',
      text: NEWEST_EVENT_SQL,
      values: [],
    });
    return rows[0]?.event_id ?? null;
  }
}

/** A statement with its parameters, under the name it is prepared as (one name, one text). */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
  readonly values: readonly unknown[];
}

/** The part of TypeORM's PostgreSQL driver that hands out pooled pg connections. */
interface PooledDriver {
  obtainMasterConnection(): Promise<[pg.PoolClient, (error?: unknown) => void]>;
}

type EventInsertRow = {
  event_id: string;
  stream_id: string;
  stream_version: number;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  occurred_at: Date;
};

function eventRowsOf(appends: readonly StreamAppend[]): EventInsertRow[] {
  return appends.flatMap(({ streamId, expectedVersion, events, context }) =>
    events.map((event, i) => {
      if (!isEventType(event.type)) throw new Error(`cannot append unknown event type ${String(event.type)}`);
      return {
        event_id: randomUUID(),
        stream_id: streamId,
        stream_version: expectedVersion + i + 1,
        event_type: event.type,
        schema_version: contractOf(event.type).schemaVersion,
        data: event.data,
        metadata: context.metadata,
        occurred_at: context.occurredAt,
      };
    }),
  );
}

/** The stored events, in the order their rows were given: each row with the position the database gave it. */
function storedEventsOf<E extends PublishedEvent>(rows: readonly EventInsertRow[], appended: AppendedRow[]): StoredEvent<E>[] {
  const positionOf = new Map(appended.map((a) => [a.event_id, a.global_position]));
  return rows.map((row) => toStoredEvent({ ...row, global_position: positionOf.get(row.event_id)! })) as StoredEvent<E>[];
}

/** A VersionConflictError naming the stream another writer got to first, or the error as it was. */
function versionConflictOr(error: unknown, appends: readonly StreamAppend[]): unknown {
  if (sqlState(error) !== UNIQUE_VIOLATION || violatedConstraint(error) !== 'events_stream_version_unique') return error;
  const conflicting = appends.find((a) => (error as { detail?: string }).detail?.includes(`(${a.streamId},`)) ?? appends[0]!;
  return new VersionConflictError(conflicting.streamId, conflicting.expectedVersion);
}

/** `text` with each parameter $n renumbered $(n + by), to follow another statement's parameters. */
export function shiftParameters(text: string, by: number): string {
  return text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}
