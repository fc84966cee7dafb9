import { findModel } from '#shared';
import type { RegisteredProduct } from '../domain/product/product.state.js';
import type { PairState, PairReplacement } from '../domain/pair/pair.state.js';

/** The product as the HTTP API and the product lookup return it. */
export interface ProductView {
  serial: string;
  model: string;
  firmwareVersion: string;
  accountId: string;
  registeredAt: string;
  statefulSyncCapable: boolean;
  pairId: string | null;
}

export function productView(product: RegisteredProduct, pairId: string | null): ProductView {
  return {
    serial: product.serial,
    model: product.model,
    firmwareVersion: product.firmwareVersion,
    accountId: product.accountId,
    registeredAt: product.registeredAt,
    statefulSyncCapable: findModel(product.model)?.statefulSync ?? false,
    pairId,
  };
}

/**
 * The pair as the HTTP API returns it. `replaces` (the pair this one replaced, the failed unit, the
 * replacement and the successor) and `replacedBy` (the pair that replaced this one) appear only when set.
 */
export interface PairView {
  pairId: string;
  primarySerial: string;
  secondarySerial: string;
  model: string;
  accountId: string;
  status: 'associated' | 'dissociated';
  associatedAt: string;
  dissociatedAt: string | null;
  replaces?: PairReplacement;
  replacedBy?: string;
}

export function pairView(pair: Exclude<PairState, { status: 'none' }>): PairView {
  return {
    pairId: pair.pairId,
    primarySerial: pair.primarySerial,
    secondarySerial: pair.secondarySerial,
    model: pair.model,
    accountId: pair.accountId,
    status: pair.status,
    associatedAt: pair.associatedAt,
    dissociatedAt: pair.status === 'dissociated' ? pair.dissociatedAt : null,
    ...(pair.replaces ? { replaces: pair.replaces } : {}),
    ...(pair.status === 'dissociated' && pair.replacedBy ? { replacedBy: pair.replacedBy } : {}),
  };
}
