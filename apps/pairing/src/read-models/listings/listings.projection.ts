/**
 * products_view and pairs_view: the rows behind `GET /products` and `GET /pairs`, updated INLINE, in the transaction
 * that appends each product or pair event (handleCommand's `afterAppend`, and the replacement's own transaction), so a
 * list never lags the writes it follows. Each row keeps the aggregate's state as its stream folds it, plus the columns
 * the lists filter and sort on. Whether a product is paired is pair_memberships' answer (also inline).
 */
import type { Tx } from '#shared';
import type { ProductState } from '../../domain/product/product.state.js';
import type { PairState } from '../../domain/pair/pair.state.js';

/** Writes a product's row from its state after the new events. */
export async function projectProductListing(tx: Tx, state: ProductState): Promise<void> {
  if (state.status !== 'registered') return;
  await tx.query(
    `INSERT INTO products_view (serial, account_id, model, state) VALUES ($1, $2, $3, $4)
     ON CONFLICT (serial) DO UPDATE SET state = EXCLUDED.state`,
    [state.serial, state.accountId, state.model, JSON.stringify(state)],
  );
}

/** Writes a pair's row from its state after the new events. */
export async function projectPairListing(tx: Tx, state: PairState): Promise<void> {
  if (state.status === 'none') return;
  await tx.query(
    `INSERT INTO pairs_view (pair_id, account_id, status, associated_at, state) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (pair_id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state`,
    [state.pairId, state.accountId, state.status, state.associatedAt, JSON.stringify(state)],
  );
}
