/**
 * What the harness knows it did: every product, pair and license an acknowledged request created, in its
 * newest acknowledged state, and the writes whose outcome is unknown. An entity touched by a write without a
 * definite answer (no answer, or a 5xx that might have come after the commit) is FROZEN: the load never
 * touches it again, and after the run the owning service is asked what became of it. Since each entity's
 * final state depends only on its own ordered writes, and the load never has two writes on one entity in
 * flight, the final state of every entity is then known exactly.
 */
import type { ModelLicense, ModelPair, ModelProduct, ModelWorld } from './oracle.js';

export interface ProductEntry {
  /** The product as registered and since changed; for an unresolved registration, as requested. */
  product: ModelProduct;
  /** yes: registered (2xx); unknown: the registration had no definite answer. */
  registered: 'yes' | 'unknown';
  /** A write on the firmware is in flight / had no definite answer (then `firmwareCandidates` holds before and after). */
  firmwareBusy: boolean;
  firmwareCandidates: string[] | null;
  /** A pairing write involving this product is in flight / had no definite answer. */
  membershipBusy: boolean;
  membershipFrozen: boolean;
  /** The probe product of the convergence measurement: the load leaves it alone. */
  reserved: boolean;
}

export interface PairEntry {
  pair: ModelPair;
  busy: boolean;
  /** A dissociation had no definite answer. */
  frozen: boolean;
}

export interface LicenseEntry {
  license: ModelLicense;
  busy: boolean;
  /** A renewal or revocation had no definite answer: the license is now one of these states. */
  candidates: ModelLicense[] | null;
}

/** A grant or association without a definite answer: the id it got, if any, is unknown. */
export interface UncertainGrant {
  readonly serial: string;
  readonly sku: string;
  readonly trial: boolean;
  readonly expiresAt: string | null;
}
export interface UncertainPair {
  readonly primarySerial: string;
  readonly secondarySerial: string;
}

export class World {
  readonly products = new Map<string, ProductEntry>();
  readonly pairs = new Map<string, PairEntry>();
  readonly licenses = new Map<string, LicenseEntry>();
  readonly uncertainGrants: UncertainGrant[] = [];
  readonly uncertainPairs: UncertainPair[] = [];

  /** Registered products the load may use (not frozen, not reserved). */
  usableProducts(): ProductEntry[] {
    return [...this.products.values()].filter((p) => p.registered === 'yes' && !p.reserved);
  }

  activePairOf(serial: string): PairEntry | undefined {
    for (const entry of this.pairs.values()) {
      const { pair } = entry;
      if (pair.status === 'associated' && (pair.primarySerial === serial || pair.secondarySerial === serial)) return entry;
    }
    return undefined;
  }

  /** Whether any write without a definite answer still waits to be resolved. */
  get hasUnresolved(): boolean {
    return (
      this.uncertainGrants.length > 0 ||
      this.uncertainPairs.length > 0 ||
      [...this.products.values()].some((p) => p.registered === 'unknown' || p.firmwareCandidates !== null) ||
      [...this.pairs.values()].some((p) => p.frozen) ||
      [...this.licenses.values()].some((l) => l.candidates !== null)
    );
  }

  /** The model the oracle computes from (call once everything is resolved). */
  snapshot(): ModelWorld {
    return {
      products: new Map([...this.products].filter(([, p]) => p.registered === 'yes').map(([s, p]) => [s, p.product])),
      pairs: new Map([...this.pairs].map(([id, p]) => [id, p.pair])),
      licenses: new Map([...this.licenses].map(([id, l]) => [id, l.license])),
    };
  }

  get counts(): { products: number; pairs: number; activePairs: number; licenses: number } {
    return {
      products: [...this.products.values()].filter((p) => p.registered === 'yes').length,
      pairs: this.pairs.size,
      activePairs: [...this.pairs.values()].filter((p) => p.pair.status === 'associated').length,
      licenses: this.licenses.size,
    };
  }
}
