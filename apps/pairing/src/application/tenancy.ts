import { canAccess, seesEveryAccount, type EventStore, type Principal } from '#shared';
import { productNotFound } from '../domain/product/product.errors.js';
import { pairNotFound } from '../domain/pair/pair.errors.js';
import { loadPair, loadProduct } from './pairing-store.js';

/*
 * Tenant isolation for pairing: another account's product or pair answers exactly what an unknown one answers
 * (404 with the same code and message), so an account-scoped key cannot probe ids. A product's and a pair's
 * account never changes after registration, so checking before the command's transaction is race-free.
 */

/** Throws PRODUCT_NOT_FOUND when the product exists but belongs to another account than the caller's. */
export async function ensureProductVisible(store: EventStore, serial: string, caller: Principal): Promise<void> {
  if (seesEveryAccount(caller)) return;
  const product = await loadProduct(store, serial);
  if (product && !canAccess(caller, product.accountId)) throw productNotFound(serial);
}

/** Throws PAIR_NOT_FOUND when the pair exists but belongs to another account than the caller's. */
export async function ensurePairVisible(store: EventStore, pairId: string, caller: Principal): Promise<void> {
  if (seesEveryAccount(caller)) return;
  const pair = await loadPair(store, pairId);
  if (pair.status !== 'none' && !canAccess(caller, pair.accountId)) throw pairNotFound(pairId);
}
