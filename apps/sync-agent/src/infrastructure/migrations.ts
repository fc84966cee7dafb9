import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  AddRelayStreamSequence1765100000000,
  AddRelayStreamEvent1768000000000,
  AnnounceCommitsAfterCommit1767000000000,
  CreateDeadLetters1764100000000,
  CreateEventStore1764000000000,
  sqlMigration,
} from '#shared';

/** The published-set snapshots as CreateProjection made them (and DropPublishedSetSnapshots' down makes them again). */
const CREATE_EFFECTIVE_SETS = `
      CREATE TABLE effective_sets (
        serial     text        PRIMARY KEY,
        set        jsonb       NOT NULL,
        version    integer     NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`;

/**
 * The sync agent's projection: the newest version of every product, pair and license it has consumed (with
 * the id of the event that carried it, for provenance), every replacement (RMA) seen, the inbox that makes
 * each event count once and keeps it for "as of" queries, the last effective set published per product and
 * the last stateful-sync status published per pair. Its own events table (from the event store migration) is
 * the outbox of EffectiveLicensesChanged and StatefulSyncChanged.
 */
export const CreateProjection1764000000003 = sqlMigration('CreateProjection1764000000003', {
  up: [
    `
      CREATE TABLE inbox (
        event_id       uuid        PRIMARY KEY,
        event_type     text        NOT NULL,
        stream_id      text        NOT NULL,
        stream_version integer     NOT NULL,
        occurred_at    timestamptz NOT NULL,
        serials        text[]      NOT NULL,
        envelope       jsonb       NOT NULL,
        received_at    timestamptz NOT NULL DEFAULT now()
      )`,
    // "As of" queries fold the events that concern a set of serials up to an instant.
    'CREATE INDEX inbox_serials ON inbox USING gin (serials)',
    `
      CREATE TABLE products (
        serial           text    PRIMARY KEY,
        model            text    NOT NULL,
        firmware_version text    NOT NULL,
        account_id       text    NOT NULL,
        version          integer NOT NULL,
        event_id         uuid    NOT NULL
      )`,
    `
      CREATE TABLE pairs (
        pair_id          uuid        PRIMARY KEY,
        primary_serial   text        NOT NULL,
        secondary_serial text        NOT NULL,
        status           text        NOT NULL CHECK (status IN ('associated', 'dissociated')),
        associated_at    timestamptz NOT NULL,
        version          integer     NOT NULL,
        event_id         uuid        NOT NULL
      )`,
    'CREATE INDEX pairs_primary ON pairs (primary_serial)',
    'CREATE INDEX pairs_secondary ON pairs (secondary_serial)',
    `
      CREATE TABLE licenses (
        license_id uuid    PRIMARY KEY,
        serial     text    NOT NULL,
        facts      jsonb   NOT NULL,
        version    integer NOT NULL,
        event_id   uuid    NOT NULL
      )`,
    'CREATE INDEX licenses_serial ON licenses (serial)',
    // A replacement passes the failed unit's licenses to its successor until licensing transfers them. Grow-only:
    // one row per pair formed by a replacement, whatever order the events arrive in.
    `
      CREATE TABLE replacements (
        failed_serial    text        NOT NULL,
        successor_serial text        NOT NULL,
        pair_id          uuid        NOT NULL,
        replaced_pair_id uuid        NOT NULL,
        since            timestamptz NOT NULL,
        event_id         uuid        NOT NULL,
        PRIMARY KEY (failed_serial, pair_id)
      )`,
    'CREATE INDEX replacements_successor ON replacements (successor_serial)',
    CREATE_EFFECTIVE_SETS,
    `
      CREATE TABLE stateful_sync_published (
        pair_id          uuid        PRIMARY KEY,
        primary_serial   text        NOT NULL,
        secondary_serial text        NOT NULL,
        enabled          boolean     NOT NULL,
        reason           text,
        version          integer     NOT NULL,
        updated_at       timestamptz NOT NULL DEFAULT now()
      )`,
  ],
  down: ['DROP TABLE stateful_sync_published, effective_sets, replacements, licenses, pairs, products, inbox'],
});

/**
 * Where each inbox event was consumed from (its stream and sequence there), so that a redelivery of that message
 * (same position: harmless) can be told from a copy of the event published again (a new position: a replay,
 * dead-lettered). Rows from before this migration have none, and any copy of their event counts as a replay.
 */
export const AddInboxSource1764200000000 = sqlMigration('AddInboxSource1764200000000', {
  up: ['ALTER TABLE inbox ADD COLUMN source_stream text, ADD COLUMN source_seq bigint'],
  down: ['ALTER TABLE inbox DROP COLUMN source_stream, DROP COLUMN source_seq'],
});

/**
 * The sync agent's large documents (its outbox events, each carrying a whole effective set, the published-set
 * snapshots and the inbox's envelopes) are compressed with lz4 instead of pglz when they exceed PostgreSQL's
 * 2 kB TOAST threshold: pglz cost the projector's transactions and the relay's reads CPU on every set, lz4
 * costs a fraction of it. Rows written before keep pglz (both are read transparently). A server built without
 * lz4 keeps pglz.
 */
export class CompressDocumentsWithLz41764900000000 implements MigrationInterface {
  name = 'CompressDocumentsWithLz41764900000000';

  async up(q: QueryRunner): Promise<void> {
    if (!(await supportsLz4(q))) return;
    await q.query('ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4');
    await q.query('ALTER TABLE effective_sets ALTER COLUMN set SET COMPRESSION lz4');
    await q.query('ALTER TABLE inbox ALTER COLUMN envelope SET COMPRESSION lz4');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE events ALTER COLUMN data SET COMPRESSION default');
    await q.query('ALTER TABLE effective_sets ALTER COLUMN set SET COMPRESSION default');
    await q.query('ALTER TABLE inbox ALTER COLUMN envelope SET COMPRESSION default');
  }
}

/** Whether the server was built with lz4 (it is then one of the values of default_toast_compression). */
async function supportsLz4(q: QueryRunner): Promise<boolean> {
  const rows = (await q.query(
    "SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
  )) as { lz4: boolean }[];
  return rows[0]?.lz4 === true;
}

/**
 * The published-set snapshots go: the projector reads a product's last published set from its newest
 * EffectiveLicensesChanged in the outbox, which holds the same set at the same version, instead of writing each set
 * twice. Undone, the snapshots are filled again from the outbox.
 */
export const DropPublishedSetSnapshots1765200000000 = sqlMigration('DropPublishedSetSnapshots1765200000000', {
  up: ['DROP TABLE effective_sets'],
  down: [
    CREATE_EFFECTIVE_SETS,
    `
      INSERT INTO effective_sets (serial, set, version)
      SELECT DISTINCT ON (stream_id) data->>'serial', data->'set', stream_version FROM events
       WHERE event_type = 'EffectiveLicensesChanged'
       ORDER BY stream_id, stream_version DESC`,
  ],
});

/** Every migration of the sync agent's database, in order. */
export const SYNC_AGENT_MIGRATIONS = [
  CreateEventStore1764000000000,
  CreateProjection1764000000003,
  CreateDeadLetters1764100000000,
  AddInboxSource1764200000000,
  CompressDocumentsWithLz41764900000000,
  AddRelayStreamSequence1765100000000,
  DropPublishedSetSnapshots1765200000000,
  AnnounceCommitsAfterCommit1767000000000,
  AddRelayStreamEvent1768000000000,
];
