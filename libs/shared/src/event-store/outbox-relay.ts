import pg from 'pg';
import type { BusNames, EventEnvelope } from '../contracts/index.js';
import { pgClientConfig } from '../database/postgres.js';
import type { PostgresSettings } from '../config/service-config.js';
import { notifyChannelOf } from './event-store.migration.js';
import type { PubAckPublisher } from '../messaging/pub-ack-publisher.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  type EventSigningKey,
} from '../event-signing/event-signature.js';
import { EVENT_COLUMNS, toStoredEvent, type EventRow, type StoredEvent } from './event-store.js';

/** A position in the outbox's commit-safe order. */
interface Position {
  transaction_id: string;
  global_position: string;
}

/** What the relay reports to metrics and health. */
export interface RelayObserver {
  published(count: number): void;
  failed(error: Error): void;
}

export interface OutboxRelayOptions {
  readonly postgres: PostgresSettings;
  /** Publishes a round's events and awaits their PubAcks. */
  readonly publisher: Pick<PubAckPublisher, 'publishAll'>;
  readonly names: BusNames;
  readonly observer?: RelayObserver;
  /** Events read and published per round; all of a round's PubAcks are awaited together. */
  readonly batchSize?: number;
  /** Longest wait between rounds when no NOTIFY arrives (events of a long transaction, missed notifies). */
  readonly pollIntervalMs?: number;
  readonly relayName?: string;
  /** Signs every published event (the services always pass their key; tests of the relay alone may not). */
  readonly signer?: EventSigningKey;
}

/**
 * How soon the relay looks again while committed events wait behind an older running transaction: 5 ms,
 * doubling while the wait goes on (a long transaction elsewhere) up to 200 ms, back to 5 ms after a publish.
 */
const HELD_BACK_RETRY_MS = { first: 5, max: 200 } as const;
/** How long the relay waits for a PubAck before it counts the round as failed. */
export const RELAY_PUBLISH_TIMEOUT_MS = 5000;
/** The longest pause between two attempts of a failed round (the backoff doubles from 100 ms up to this). */
export const RELAY_MAX_BACKOFF_MS = 5000;
const RELAY_POLL_INTERVAL_MS = 1000;
/**
 * The relay's retry horizon: while PostgreSQL and NATS answer, an event whose PubAck did not arrive is
 * published again within one PubAck timeout, one backoff and one poll interval. JetStream's duplicate window
 * must be longer (see streams.ts) so that `Nats-Msg-Id` drops every such copy.
 */
export const RELAY_RETRY_HORIZON_MS = RELAY_PUBLISH_TIMEOUT_MS + RELAY_MAX_BACKOFF_MS + RELAY_POLL_INTERVAL_MS;

/** The envelope published for a stored event; its `eventId` is also the `Nats-Msg-Id`. */
export function envelopeOf(event: StoredEvent): EventEnvelope {
  return {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    occurredAt: event.occurredAt,
    data: event.data,
    metadata: event.metadata,
  } as EventEnvelope;
}

/**
 * Publishes committed events to JetStream in commit-safe order, then advances a checkpoint.
 *
 * Order: events are read by (transaction_id, global_position), and only from transactions older than the
 * oldest transaction still running (`pg_snapshot_xmin`). A position allocated by a transaction that has not
 * committed yet is therefore never skipped: the relay waits until that transaction ends. Nothing is
 * published before it commits.
 *
 * At-least-once: the checkpoint advances only after every PubAck of a round arrived. A crash or a NATS
 * outage in between republishes the round, and JetStream drops the copies by `Nats-Msg-Id`.
 *
 * One relay per database: a session advisory lock elects it; other instances wait as hot standbys.
 */
export class OutboxRelay {
  private client: pg.Client | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastError: Error | undefined;
  private leader = false;
  /** A commit was signalled since the current round read the events: run another round before sleeping. */
  private notified = false;
  /**
   * The checkpoint as this leader last wrote (or first read) it. Only the leader writes it, under the lock it
   * holds on this connection, so it is read from the table once per connection, not once per round.
   */
  private checkpoint: Position | undefined;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly relayName: string;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? RELAY_POLL_INTERVAL_MS;
    this.relayName = options.relayName ?? 'jetstream';
  }

  /** True once this instance holds the relay lock and its last round succeeded. */
  get healthy(): boolean {
    return this.running && this.lastError === undefined;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the round in progress (its PubAcks and checkpoint) and stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Wakes the relay now, e.g. right after a commit in this process. */
  poke(): void {
    this.notified = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    let backoffMs = 100;
    let heldBackMs: number = HELD_BACK_RETRY_MS.first;
    while (this.running) {
      try {
        await this.ensureClient();
        if (!this.leader) {
          await this.sleep(this.pollIntervalMs);
          continue;
        }
        const { published, heldBack } = await this.round();
        this.lastError = undefined;
        backoffMs = 100;
        if (published > 0 || !heldBack) heldBackMs = HELD_BACK_RETRY_MS.first;
        if (published < this.batchSize) {
          await this.sleep(heldBack ? heldBackMs : this.pollIntervalMs);
          if (heldBack) heldBackMs = Math.min(heldBackMs * 2, HELD_BACK_RETRY_MS.max);
        }
      } catch (error) {
        this.lastError = error as Error;
        this.options.observer?.failed(error as Error);
        await this.dropClientIfBroken();
        this.notified = false; // back off even while commits keep signalling
        await this.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, RELAY_MAX_BACKOFF_MS);
      }
    }
    await this.closeClient();
  }

  /**
   * Publishes one batch; says how many events it published and whether committed events are held back
   * behind an older transaction still running (on any database of the server: `pg_snapshot_xmin` is
   * cluster-wide). Such a transaction may end without a NOTIFY, so the relay then looks again shortly
   * rather than at its slow poll.
   */
  private async round(): Promise<{ published: number; heldBack: boolean }> {
    const client = this.client!;
    this.notified = false;
    const from = this.checkpoint ?? (await this.readCheckpoint(client));
    // One statement, one snapshot: the batch (committed events below the oldest running transaction), and
    // whether events after the checkpoint wait behind such a transaction. Every event after the checkpoint
    // below that horizon is in the batch unless it is full, so "held back after the checkpoint" is also "held
    // back after the batch". A row of nulls but held_back when the batch is empty.
    // Not a prepared statement: a generic plan (unknown checkpoint) scans the whole table for the held-back
    // test, where the plan for the actual checkpoint reads the few index entries after it. The ORDER BYs name
    // the xid8 column: an ORDER BY by the text alias `transaction_id` would sort '10000' before '9999'.
    const result = await client.query<Partial<EventRow> & { transaction_id: string | null; held_back: boolean }>(
      `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
            batch AS (
              SELECT ${EVENT_COLUMNS}, transaction_id AS xid
                FROM events
               WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
                 AND transaction_id < (SELECT xmin FROM horizon)
               ORDER BY events.transaction_id, events.global_position
               LIMIT $3)
       SELECT batch.*, batch.xid::text AS transaction_id, held.held_back
         FROM (SELECT EXISTS (SELECT 1 FROM events
                               WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
                                 AND transaction_id >= (SELECT xmin FROM horizon)) AS held_back) held
         LEFT JOIN batch ON true
        ORDER BY batch.xid, batch.global_position`,
      [from.transaction_id, from.global_position, this.batchSize],
    );
    const heldBack = result.rows[0]?.held_back === true;
    const rows = result.rows.filter((r) => r.transaction_id !== null) as (EventRow & { transaction_id: string })[];
    if (rows.length === 0) return { published: 0, heldBack };
    const { publisher, names, signer } = this.options;
    // Publishes are written to the socket in order, so JetStream stores them in commit order; the
    // PubAcks are awaited together so one round costs one round trip, not one per event.
    await publisher.publishAll(
      rows.map((row) => {
        const envelope = envelopeOf(toStoredEvent(row));
        const subject = names.subjectOf(envelope);
        if (!signer) return { subject, data: JSON.stringify(envelope), msgId: envelope.eventId };
        const signed = signEvent(envelope, subject, signer);
        return {
          subject,
          data: signed.body,
          msgId: envelope.eventId,
          headers: { [EVENT_KEY_ID_HEADER]: signed.keyId, [EVENT_SIGNATURE_HEADER]: signed.signature },
        };
      }),
      RELAY_PUBLISH_TIMEOUT_MS,
    );
    const last = rows[rows.length - 1]!;
    const position: Position = { transaction_id: last.transaction_id, global_position: String(last.global_position) };
    await client.query({
      name: 'outbox-relay.checkpoint',
      text: `INSERT INTO relay_checkpoints (relay, transaction_id, global_position, updated_at)
             VALUES ($1, $2::xid8, $3, now())
             ON CONFLICT (relay) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
               global_position = EXCLUDED.global_position, updated_at = now()`,
      values: [this.relayName, position.transaction_id, position.global_position],
    });
    this.checkpoint = position;
    this.options.observer?.published(rows.length);
    return { published: rows.length, heldBack: rows.length < this.batchSize && heldBack };
  }

  private async readCheckpoint(client: pg.Client): Promise<Position> {
    const { rows } = await client.query<Position>(
      'SELECT transaction_id::text, global_position::text FROM relay_checkpoints WHERE relay = $1',
      [this.relayName],
    );
    this.checkpoint = rows[0] ?? { transaction_id: '0', global_position: '0' };
    return this.checkpoint;
  }

  private async ensureClient(): Promise<void> {
    if (this.client) return;
    const client = new pg.Client(pgClientConfig(this.options.postgres));
    client.on('error', () => {
      // A dropped connection surfaces as a failed query in the loop, which reconnects.
    });
    await client.connect();
    this.client = client;
    const schema = this.options.postgres.schema;
    await client.query(`LISTEN ${pg.escapeIdentifier(notifyChannelOf(schema))}`);
    client.on('notification', () => this.poke());
    const lock = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
      `${schema}.outbox-relay.${this.relayName}`,
    ]);
    this.leader = lock.rows[0]?.locked === true;
    if (this.leader) {
      // The checkpoint is the relay's only write. Losing its last advances in a crash of PostgreSQL only makes
      // the relay publish those events again, which JetStream (Nats-Msg-Id) and the inboxes drop; so its commits
      // need not wait for the WAL fsync (the events themselves were committed durably by their writers).
      await client.query('SET synchronous_commit = off');
    } else {
      // Not elected: reconnect after a while and try again (the leader may have died).
      await this.closeClient();
    }
  }

  private async dropClientIfBroken(): Promise<void> {
    if (!this.client) return;
    try {
      await this.client.query('SELECT 1');
    } catch {
      await this.closeClient();
    }
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.leader = false;
    this.checkpoint = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running || this.notified) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
