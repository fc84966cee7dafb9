import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  AddRelayStreamSequence1765100000000,
  AddRelayStreamEvent1768000000000,
  AnnounceCommitsAfterCommit1767000000000,
  AllowAuditorApiKeys1765000000000,
  CreateApiKeys1764000000100,
  CreateEventStore1764000000000,
  fold,
  sqlMigration,
  type Decider,
  type DomainEvent,
} from '#shared';
import { productDecider } from '../domain/product/product.decide.js';
import { pairDecider } from '../domain/pair/pair.decide.js';
import { projectPairListing, projectProductListing } from '../read-models/listings/listings.projection.js';

/** The inline projection that reserves each product's single pair membership (see pairing-store.ts). */
export const CreatePairMemberships1764000000001 = sqlMigration('CreatePairMemberships1764000000001', {
  up: [
    `
      CREATE TABLE pair_memberships (
        serial  text PRIMARY KEY,
        pair_id uuid NOT NULL,
        role    text NOT NULL CHECK (role IN ('primary', 'secondary'))
      )`,
    'CREATE INDEX pair_memberships_pair ON pair_memberships (pair_id)',
  ],
  down: ['DROP TABLE pair_memberships'],
});

/**
 * products_view and pairs_view, the inline projections behind the product and pair lists (read-models/listings),
 * filled from the streams already stored: each stream is folded with its aggregate's own `evolve`, so the rows are
 * exactly what the live projection would have written.
 */
export class CreateListings1766000000000 implements MigrationInterface {
  name = 'CreateListings1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE products_view (
        serial     text  PRIMARY KEY,
        account_id text  NOT NULL,
        model      text  NOT NULL,
        state      jsonb NOT NULL
      )`);
    await q.query('CREATE INDEX products_view_account ON products_view (account_id, serial)');
    await q.query(`
      CREATE TABLE pairs_view (
        pair_id       uuid        PRIMARY KEY,
        account_id    text        NOT NULL,
        status        text        NOT NULL CHECK (status IN ('associated', 'dissociated')),
        associated_at timestamptz NOT NULL,
        state         jsonb       NOT NULL
      )`);
    await q.query('CREATE INDEX pairs_view_order ON pairs_view (associated_at DESC, pair_id DESC)');
    await q.query('CREATE INDEX pairs_view_account ON pairs_view (account_id, associated_at DESC, pair_id DESC)');
    for (const product of await foldStreams(q, 'product-', productDecider)) await projectProductListing(q, product);
    for (const pair of await foldStreams(q, 'pair-', pairDecider)) await projectPairListing(q, pair);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE pairs_view, products_view');
  }
}

/** The state of every stream whose id starts with `prefix`, folded with `decider`. */
async function foldStreams<E extends DomainEvent, S>(
  q: QueryRunner,
  prefix: string,
  decider: Pick<Decider<unknown, E, S>, 'initialState' | 'evolve'>,
): Promise<S[]> {
  const rows = (await q.query(
    'SELECT stream_id, event_type AS type, data FROM events WHERE stream_id LIKE $1 ORDER BY stream_id, stream_version',
    [`${prefix}%`],
  )) as ({ stream_id: string } & E)[];
  const streams = new Map<string, E[]>();
  for (const { stream_id, type, data } of rows) streams.set(stream_id, [...(streams.get(stream_id) ?? []), { type, data } as E]);
  return [...streams.values()].map((events) => fold(decider, events));
}

/** Every migration of the pairing database, in order. */
export const PAIRING_MIGRATIONS = [
  CreateEventStore1764000000000,
  CreatePairMemberships1764000000001,
  // Pairing owns the API keys of all three services (docs/decisions.md §21).
  CreateApiKeys1764000000100,
  AllowAuditorApiKeys1765000000000,
  AddRelayStreamSequence1765100000000,
  CreateListings1766000000000,
  AnnounceCommitsAfterCommit1767000000000,
  AddRelayStreamEvent1768000000000,
];
