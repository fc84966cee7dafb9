import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CreateEventStore1764000000000 } from '#shared';

/**
 * The sync agent's projection: the newest version of every product, pair and license it has consumed,
 * the inbox that makes each event count once, and the last effective set published per product.
 * Its own events table (from the event store migration) is the outbox of EffectiveLicensesChanged.
 */
export class CreateProjection1764000000003 implements MigrationInterface {
  name = 'CreateProjection1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inbox (
        event_id       uuid        PRIMARY KEY,
        event_type     text        NOT NULL,
        stream_id      text        NOT NULL,
        stream_version integer     NOT NULL,
        occurred_at    timestamptz NOT NULL,
        serials        text[]      NOT NULL,
        envelope       jsonb       NOT NULL,
        received_at    timestamptz NOT NULL DEFAULT now()
      )`);
    // "As of" queries fold the events that concern a set of serials up to an instant.
    await q.query('CREATE INDEX inbox_serials ON inbox USING gin (serials)');
    await q.query(`
      CREATE TABLE products (
        serial           text    PRIMARY KEY,
        model            text    NOT NULL,
        firmware_version text    NOT NULL,
        account_id       text    NOT NULL,
        version          integer NOT NULL
      )`);
    await q.query(`
      CREATE TABLE pairs (
        pair_id          uuid        PRIMARY KEY,
        primary_serial   text        NOT NULL,
        secondary_serial text        NOT NULL,
        status           text        NOT NULL CHECK (status IN ('associated', 'dissociated')),
        associated_at    timestamptz NOT NULL,
        version          integer     NOT NULL
      )`);
    await q.query('CREATE INDEX pairs_primary ON pairs (primary_serial)');
    await q.query('CREATE INDEX pairs_secondary ON pairs (secondary_serial)');
    await q.query(`
      CREATE TABLE licenses (
        license_id uuid    PRIMARY KEY,
        serial     text    NOT NULL,
        facts      jsonb   NOT NULL,
        version    integer NOT NULL
      )`);
    await q.query('CREATE INDEX licenses_serial ON licenses (serial)');
    await q.query(`
      CREATE TABLE effective_sets (
        serial     text        PRIMARY KEY,
        set        jsonb       NOT NULL,
        version    integer     NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE effective_sets, licenses, pairs, products, inbox');
  }
}

/** Every migration of the sync agent's database, in order. */
export const SYNC_AGENT_MIGRATIONS = [CreateEventStore1764000000000, CreateProjection1764000000003];
