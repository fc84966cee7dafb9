import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CreateEventStore1764000000000 } from '#shared';

/** The licenses read model, updated inline in the transaction of each EntitlementChanged. */
export class CreateLicensesView1764000000002 implements MigrationInterface {
  name = 'CreateLicensesView1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE licenses_view (
        license_id uuid        PRIMARY KEY,
        serial     text        NOT NULL,
        sku        text        NOT NULL,
        trial      boolean     NOT NULL,
        expires_at timestamptz,
        status     text        NOT NULL,
        granted_at timestamptz NOT NULL,
        revoked_at timestamptz,
        version    integer     NOT NULL
      )`);
    await q.query('CREATE INDEX licenses_view_serial ON licenses_view (serial, granted_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE licenses_view');
  }
}

/** Every migration of the licensing database, in order. */
export const LICENSING_MIGRATIONS = [CreateEventStore1764000000000, CreateLicensesView1764000000002];
