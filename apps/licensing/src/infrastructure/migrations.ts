import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AddRelayStreamSequence1765100000000, CreateDeadLetters1764100000000, CreateEventStore1764000000000 } from '#shared';

/**
 * The licenses read model, updated inline in the transaction of each license event. `warned_for` and
 * `expiry_recorded_for` are the expiries the scheduler already acted on; the two partial indexes hold only
 * the licenses it may still have to act on, so its queries stay small however many licenses expired long ago.
 * `handled_events` is the inbox of the pairing events licensing acted on (license transfers).
 */
export class CreateLicensesView1764000000002 implements MigrationInterface {
  name = 'CreateLicensesView1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE licenses_view (
        license_id          uuid        PRIMARY KEY,
        serial              text        NOT NULL,
        sku                 text        NOT NULL,
        trial               boolean     NOT NULL,
        expires_at          timestamptz,
        status              text        NOT NULL,
        granted_at          timestamptz NOT NULL,
        revoked_at          timestamptz,
        warned_for          timestamptz,
        expiry_recorded_for timestamptz,
        version             integer     NOT NULL
      )`);
    await q.query('CREATE INDEX licenses_view_serial ON licenses_view (serial, granted_at)');
    await q.query(`
      CREATE INDEX licenses_view_expiry_pending ON licenses_view (expires_at)
      WHERE status = 'active' AND expiry_recorded_for IS DISTINCT FROM expires_at`);
    await q.query(`
      CREATE INDEX licenses_view_warning_pending ON licenses_view (expires_at)
      WHERE status = 'active' AND warned_for IS DISTINCT FROM expires_at`);
    await q.query(`
      CREATE TABLE handled_events (
        event_id   uuid        PRIMARY KEY,
        handled_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE handled_events');
    await q.query('DROP TABLE licenses_view');
  }
}

/**
 * Where each handled pairing event was consumed from, so that a redelivery of that message (harmless) can be told
 * from a copy of the event published again (a replay, dead-lettered). Older rows have none: any copy is a replay.
 */
export class AddHandledEventSource1764200000001 implements MigrationInterface {
  name = 'AddHandledEventSource1764200000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE handled_events ADD COLUMN source_stream text, ADD COLUMN source_seq bigint');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE handled_events DROP COLUMN source_stream, DROP COLUMN source_seq');
  }
}

/**
 * Each license's account (its product's, which never changes), so the license list can be scoped and filtered by
 * account without asking pairing per row; and the list's order (soonest expiry first, perpetual last, then id) as an
 * index. Licenses granted before have none until LicenseAccounts fills them in from pairing at start; until then an
 * account-scoped key does not see them in the list (operators and auditors do).
 */
export class AddLicenseAccount1766000000001 implements MigrationInterface {
  name = 'AddLicenseAccount1766000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE licenses_view ADD COLUMN account_id text');
    await q.query(
      "CREATE INDEX licenses_view_expiry_order ON licenses_view ((COALESCE(expires_at, 'infinity'::timestamptz)), license_id)",
    );
    await q.query(
      "CREATE INDEX licenses_view_account_order ON licenses_view (account_id, (COALESCE(expires_at, 'infinity'::timestamptz)), license_id)",
    );
    await q.query('CREATE INDEX licenses_view_account_missing ON licenses_view (serial) WHERE account_id IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX licenses_view_account_missing, licenses_view_account_order, licenses_view_expiry_order');
    await q.query('ALTER TABLE licenses_view DROP COLUMN account_id');
  }
}

/** Every migration of the licensing database, in order. */
export const LICENSING_MIGRATIONS = [
  CreateEventStore1764000000000,
  CreateLicensesView1764000000002,
  CreateDeadLetters1764100000000,
  AddHandledEventSource1764200000001,
  AddRelayStreamSequence1765100000000,
  AddLicenseAccount1766000000001,
];
