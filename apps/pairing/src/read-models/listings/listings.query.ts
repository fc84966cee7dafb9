/**
 * The product and pair lists, read SYNCHRONOUSLY from products_view and pairs_view (inline projections, see
 * listings.projection.ts). Keyset pages: products by serial; pairs newest association first, ties by pair id.
 */
import { pageOf, type Page, type Tx } from '#shared';
import type { RegisteredProduct } from '../../domain/product/product.state.js';
import type { AssociatedPair, DissociatedPair } from '../../domain/pair/pair.state.js';
import { pairView, productView, type PairView, type ProductView } from '../../application/views.js';

/** What the product list may be narrowed to; `accountId` null = every account. */
export interface ProductFilter {
  readonly accountId: string | null;
  readonly model?: string | undefined;
  readonly pairStatus?: 'paired' | 'unpaired' | undefined;
}

/** A page of products in serial order, after `after` (the last serial of the previous page). */
export async function listProducts(
  tx: Tx,
  filter: ProductFilter,
  after: string | null,
  limit: number,
): Promise<Page<ProductView>> {
  const rows: { serial: string; state: RegisteredProduct; pair_id: string | null }[] = await tx.query(
    `SELECT p.serial, p.state, m.pair_id FROM products_view p
       LEFT JOIN pair_memberships m ON m.serial = p.serial
      WHERE ($1::text IS NULL OR p.account_id = $1)
        AND ($2::text IS NULL OR p.model = $2)
        AND ($3::text IS NULL OR (m.pair_id IS NOT NULL) = ($3 = 'paired'))
        AND ($4::text IS NULL OR p.serial > $4)
      ORDER BY p.serial
      LIMIT $5`,
    [filter.accountId, filter.model ?? null, filter.pairStatus ?? null, after, limit + 1],
  );
  return pageOf(
    rows,
    limit,
    (r) => [r.serial],
    (r) => productView(r.state, r.pair_id),
  );
}

/** What the pair list may be narrowed to; `accountId` null = every account. */
export interface PairFilter {
  readonly accountId: string | null;
  readonly status?: 'associated' | 'dissociated' | undefined;
}

/** A page of pairs, newest association first, after `after` (the previous page's last `[associatedAt, pairId]`). */
export async function listPairs(
  tx: Tx,
  filter: PairFilter,
  after: readonly [string, string] | null,
  limit: number,
): Promise<Page<PairView>> {
  const rows: { pair_id: string; associated_at: Date; state: AssociatedPair | DissociatedPair }[] = await tx.query(
    `SELECT pair_id, associated_at, state FROM pairs_view
      WHERE ($1::text IS NULL OR account_id = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR (associated_at, pair_id) < ($3::timestamptz, $4::uuid))
      ORDER BY associated_at DESC, pair_id DESC
      LIMIT $5`,
    [filter.accountId, filter.status ?? null, after?.[0] ?? null, after?.[1] ?? null, limit + 1],
  );
  return pageOf(
    rows,
    limit,
    (r) => [r.associated_at.toISOString(), r.pair_id],
    (r) => pairView(r.state),
  );
}
