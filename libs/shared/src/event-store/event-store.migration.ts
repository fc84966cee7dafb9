import { createHash } from 'node:crypto';
import { sqlMigration } from '../database/migrations.js';

/** The NOTIFY channel the events trigger of a schema signals: `events_` + md5(schema), as in the trigger. */
export function notifyChannelOf(schema: string): string {
  return `events_${createHash('md5').update(schema).digest('hex')}`;
}

/** The trigger that woke the relay on every appending statement (dropped since: see AnnounceCommitsAfterCommit). */
const NOTIFY_TRIGGER = [
  `
      CREATE FUNCTION notify_events_appended() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('events_' || md5(TG_TABLE_SCHEMA), '');
        RETURN NULL;
      END $$`,
  `
      CREATE TRIGGER events_appended AFTER INSERT ON events
      FOR EACH STATEMENT EXECUTE FUNCTION notify_events_appended()`,
];

/**
 * The append-only event store, which is also the outbox. `transaction_id` lets the relay read only
 * events of transactions that can no longer commit out of order (see outbox-relay.ts).
 */
export const CreateEventStore1764000000000 = sqlMigration('CreateEventStore1764000000000', {
  up: [
    `
      CREATE TABLE events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
        event_id        uuid        NOT NULL UNIQUE,
        stream_id       text        NOT NULL,
        stream_version  integer     NOT NULL CHECK (stream_version > 0),
        event_type      text        NOT NULL,
        schema_version  integer     NOT NULL,
        data            jsonb       NOT NULL,
        metadata        jsonb       NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
      )`,
    `CREATE INDEX events_outbox_order ON events (transaction_id, global_position)`,
    `
      CREATE TABLE relay_checkpoints (
        relay           text        PRIMARY KEY,
        transaction_id  xid8        NOT NULL,
        global_position bigint      NOT NULL,
        updated_at      timestamptz NOT NULL DEFAULT now()
      )`,
    // Wakes the relay when events commit (NOTIFY is delivered at commit). The channel is per schema, so
    // services sharing a database never wake each other, and hashed, so it fits the 63-byte limit whatever
    // the schema's name (see notifyChannelOf).
    ...NOTIFY_TRIGGER,
  ],
  down: ['DROP TABLE relay_checkpoints', 'DROP TABLE events', 'DROP FUNCTION notify_events_appended()'],
});

/**
 * The stream sequence of the relay's last PubAck, kept with its checkpoint, so the relay can tell when its stream
 * later holds less than it acknowledged (see OutboxRelay).
 */
export const AddRelayStreamSequence1765100000000 = sqlMigration('AddRelayStreamSequence1765100000000', {
  up: ['ALTER TABLE relay_checkpoints ADD COLUMN stream_seq bigint NOT NULL DEFAULT 0'],
  down: ['ALTER TABLE relay_checkpoints DROP COLUMN stream_seq'],
});

/**
 * The event store announces its commits itself, after they commit (EventStore: the relay of its own process directly,
 * any other by a NOTIFY outside the appending transaction), instead of this trigger inside it: a NOTIFY in a
 * transaction that writes holds a cluster-wide lock from its commit through its WAL flush, so every appending commit
 * of every service waited for the one before (decisions §48).
 */
export const AnnounceCommitsAfterCommit1767000000000 = sqlMigration('AnnounceCommitsAfterCommit1767000000000', {
  up: ['DROP TRIGGER events_appended ON events', 'DROP FUNCTION notify_events_appended()'],
  down: NOTIFY_TRIGGER,
});

/**
 * The event whose message the stream holds at the checkpoint's `stream_seq`: the relay checks that message is still
 * that event, since other producers' messages can refill a lost tail up to the same sequence (see OutboxRelay).
 * Null until the relay's next round writes it.
 */
export const AddRelayStreamEvent1768000000000 = sqlMigration('AddRelayStreamEvent1768000000000', {
  up: ['ALTER TABLE relay_checkpoints ADD COLUMN stream_event_id uuid'],
  down: ['ALTER TABLE relay_checkpoints DROP COLUMN stream_event_id'],
});
