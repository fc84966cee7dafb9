import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  AddRelayStreamSequence1765100000000,
  AllowAuditorApiKeys1765000000000,
  CreateApiKeys1764000000100,
  CreateEventStore1764000000000,
} from '#shared';

/** The inline projection that reserves each product's single pair membership (see pairing-store.ts). */
export class CreatePairMemberships1764000000001 implements MigrationInterface {
  name = 'CreatePairMemberships1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE pair_memberships (
        serial  text PRIMARY KEY,
        pair_id uuid NOT NULL,
        role    text NOT NULL CHECK (role IN ('primary', 'secondary'))
      )`);
    await q.query('CREATE INDEX pair_memberships_pair ON pair_memberships (pair_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE pair_memberships');
  }
}

/** Every migration of the pairing database, in order. */
export const PAIRING_MIGRATIONS = [
  CreateEventStore1764000000000,
  CreatePairMemberships1764000000001,
  // Pairing owns the API keys of all three services (docs/decisions.md §21).
  CreateApiKeys1764000000100,
  AllowAuditorApiKeys1765000000000,
  AddRelayStreamSequence1765100000000,
];
