import pg from 'pg';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { BusNames, EventEnvelope } from '../contracts/index.js';
import { pgClientConfig } from '../database/postgres.js';
import type { PostgresSettings } from '../config/service-config.js';
import { notifyChannelOf } from './event-store.migration.js';
import {
  EVENT_KEY_ID_HEADER,
  EVENT_SIGNATURE_HEADER,
  signEvent,
  type EventSigningKey,
} from '../event-signing/event-signature.js';
import { EVENT_COLUMNS, toStoredEvent, type EventRow, type StoredEvent } from './event-store.js';

/** What the relay reports to metrics and health. */
export interface RelayObserver {
  published(count: number): void;
  failed(error: Error): void;
}

export interface OutboxRelayOptions {
  readonly postgres: PostgresSettings;
  readonly js: JetStreamClient;
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
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly relayName: string;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
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
    this.wake?.();
  }

  private async run(): Promise<void> {
    let backoffMs = 100;
    while (this.running) {
      try {
        await this.ensureClient();
        if (!this.leader) {
          await this.sleep(this.pollIntervalMs);
          continue;
        }
        const published = await this.round();
        this.lastError = undefined;
        backoffMs = 100;
        if (published < this.batchSize) await this.sleep(this.pollIntervalMs);
      } catch (error) {
        this.lastError = error as Error;
        this.options.observer?.failed(error as Error);
        await this.dropClientIfBroken();
        await this.sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
    await this.closeClient();
  }

  /** Publishes one batch; returns how many events it published. */
  private async round(): Promise<number> {
    const client = this.client!;
    const checkpoint = await client.query<{ transaction_id: string; global_position: string }>(
      'SELECT transaction_id::text, global_position FROM relay_checkpoints WHERE relay = $1',
      [this.relayName],
    );
    const from = checkpoint.rows[0] ?? { transaction_id: '0', global_position: '0' };
    const { rows } = await client.query<EventRow & { transaction_id: string }>(
      `SELECT ${EVENT_COLUMNS}, transaction_id::text AS transaction_id
         FROM events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id, global_position
        LIMIT $3`,
      [from.transaction_id, from.global_position, this.batchSize],
    );
    if (rows.length === 0) return 0;
    const { js, names, signer } = this.options;
    // Publishes are written to the socket in order, so JetStream stores them in commit order; the
    // PubAcks are awaited together so one round costs one round trip, not one per event.
    await Promise.all(
      rows.map((row) => {
        const event = toStoredEvent(row);
        const envelope = envelopeOf(event);
        const subject = names.subjectOf(envelope);
        if (!signer) return js.publish(subject, JSON.stringify(envelope), { msgID: event.eventId, timeout: 5000 });
        const signed = signEvent(envelope, subject, signer);
        const h = headers();
        h.set(EVENT_KEY_ID_HEADER, signed.keyId);
        h.set(EVENT_SIGNATURE_HEADER, signed.signature);
        return js.publish(subject, signed.body, { msgID: event.eventId, timeout: 5000, headers: h });
      }),
    );
    const last = rows[rows.length - 1] as { transaction_id: string; global_position: string };
    await client.query(
      `INSERT INTO relay_checkpoints (relay, transaction_id, global_position, updated_at)
       VALUES ($1, $2::xid8, $3, now())
       ON CONFLICT (relay) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
         global_position = EXCLUDED.global_position, updated_at = now()`,
      [this.relayName, last.transaction_id, last.global_position],
    );
    this.options.observer?.published(rows.length);
    return rows.length;
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
    client.on('notification', () => this.wake?.());
    const lock = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [
      `${schema}.outbox-relay.${this.relayName}`,
    ]);
    this.leader = lock.rows[0]?.locked === true;
    if (!this.leader) {
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
    if (client) await client.end().catch(() => undefined);
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
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
