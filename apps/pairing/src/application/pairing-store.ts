import { loadState, type EventStore, type Tx } from '#shared';
import { productDecider } from '../domain/product/product.decide.js';
import type { ProductState, RegisteredProduct } from '../domain/product/product.state.js';
import { pairDecider } from '../domain/pair/pair.decide.js';
import type { PairState } from '../domain/pair/pair.state.js';

/** Stream ids: one stream per product (by serial) and one per pair. */
export const productStreamId = (serial: string): string => `product-${serial}`;
export const pairStreamId = (pairId: string): string => `pair-${pairId}`;

/** A product as its event stream says it is now (strongly consistent: no projection lag). */
export async function loadProduct(store: EventStore, serial: string, tx?: Tx): Promise<RegisteredProduct | null> {
  const { state } = await loadState<Parameters<typeof productDecider.evolve>[1], ProductState>(
    store,
    productDecider,
    productStreamId(serial),
    tx,
  );
  return state.status === 'registered' ? state : null;
}

export async function loadPair(store: EventStore, pairId: string, tx?: Tx): Promise<PairState> {
  const { state } = await loadState(store, pairDecider, pairStreamId(pairId), tx);
  return state;
}

/**
 * pair_memberships: which active pair each product is in. It is an inline projection of the pair events,
 * written in the same transaction as them, and its primary key on serial is what makes "a product is in at
 * most one pair" hold under concurrent associations (the loser's transaction fails and is retried, and
 * then the decider sees ALREADY_PAIRED).
 */
export async function activePairOf(tx: Tx, serial: string): Promise<string | null> {
  const rows: { pair_id: string }[] = await tx.query('SELECT pair_id FROM pair_memberships WHERE serial = $1', [serial]);
  return rows[0]?.pair_id ?? null;
}

export async function recordMemberships(tx: Tx, pairId: string, primarySerial: string, secondarySerial: string): Promise<void> {
  await tx.query(`INSERT INTO pair_memberships (serial, pair_id, role) VALUES ($1, $3, 'primary'), ($2, $3, 'secondary')`, [
    primarySerial,
    secondarySerial,
    pairId,
  ]);
}

export async function releaseMemberships(tx: Tx, pairId: string): Promise<void> {
  await tx.query('DELETE FROM pair_memberships WHERE pair_id = $1', [pairId]);
}
