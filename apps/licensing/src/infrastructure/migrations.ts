import {
  AddRelayStreamSequence1765100000000,
  AddRelayStreamEvent1768000000000,
  AnnounceCommitsAfterCommit1767000000000,
  CreateDeadLetters1764100000000,
  CreateEventStore1764000000000,
  sqlMigration,
} from '#shared';

/**
 * The licenses read model, updated inline in the transaction of each license event. `warned_for` and
 * `expiry_recorded_for` are the expiries the scheduler already acted on; the two partial indexes hold only
 * the licenses it may still have to act on, so its queries stay small however many licenses expired long ago.
 * `handled_events` is the inbox of the pairing events licensing acted on (license transfers).
 */
export const CreateLicensesView1764000000002 = sqlMigration('CreateLicensesView1764000000002', {
  up: [
    `
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
      )`,
    'CREATE INDEX licenses_view_serial ON licenses_view (serial, granted_at)',
    `
      CREATE INDEX licenses_view_expiry_pending ON licenses_view (expires_at)
      WHERE status = 'active' AND expiry_recorded_for IS DISTINCT FROM expires_at`,
    `
      CREATE INDEX licenses_view_warning_pending ON licenses_view (expires_at)
      WHERE status = 'active' AND warned_for IS DISTINCT FROM expires_at`,
    `
      CREATE TABLE handled_events (
        event_id   uuid        PRIMARY KEY,
        handled_at timestamptz NOT NULL
      )`,
  ],
  down: ['DROP TABLE handled_events', 'DROP TABLE licenses_view'],
});

/**
 * Where each handled pairing event was consumed from, so that a redelivery of that message (harmless) can be told
 * from a copy of the event published again (a replay, dead-lettered). Older rows have none: any copy is a replay.
 */
export const AddHandledEventSource1764200000001 = sqlMigration('AddHandledEventSource1764200000001', {
  up: ['ALTER TABLE handled_events ADD COLUMN source_stream text, ADD COLUMN source_seq bigint'],
  down: ['ALTER TABLE handled_events DROP COLUMN source_stream, DROP COLUMN source_seq'],
});

/**
 * Each license's account (its product's, which never changes), so the license list can be scoped and filtered by
 * account without asking pairing per row; and the list's order (soonest expiry first, perpetual last, then id) as an
 * index. Licenses granted before have none until LicenseAccounts fills them in from pairing at start; until then an
 * account-scoped key does not see them in the list (operators and auditors do).
 */
export const AddLicenseAccount1766000000001 = sqlMigration('AddLicenseAccount1766000000001', {
  up: [
    'ALTER TABLE licenses_view ADD COLUMN account_id text',
    "CREATE INDEX licenses_view_expiry_order ON licenses_view ((COALESCE(expires_at, 'infinity'::timestamptz)), license_id)",
    "CREATE INDEX licenses_view_account_order ON licenses_view (account_id, (COALESCE(expires_at, 'infinity'::timestamptz)), license_id)",
    'CREATE INDEX licenses_view_account_missing ON licenses_view (serial) WHERE account_id IS NULL',
  ],
  down: [
    'DROP INDEX licenses_view_account_missing, licenses_view_account_order, licenses_view_expiry_order',
    'ALTER TABLE licenses_view DROP COLUMN account_id',
  ],
});

/** Every migration of the licensing database, in order. */
export const LICENSING_MIGRATIONS = [
  CreateEventStore1764000000000,
  CreateLicensesView1764000000002,
  CreateDeadLetters1764100000000,
  AddHandledEventSource1764200000001,
  AddRelayStreamSequence1765100000000,
  AddLicenseAccount1766000000001,
  AnnounceCommitsAfterCommit1767000000000,
  AddRelayStreamEvent1768000000000,
];
