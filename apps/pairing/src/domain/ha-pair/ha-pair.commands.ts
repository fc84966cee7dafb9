import type { CommandMetadata } from '#shared/contracts';
import type { RegisteredProduct } from '../product/product.state.js';

/** What every pair command carries besides its data: the clock reading the handler took. */
export type HaPairCommandMetadata = CommandMetadata;

/**
 * Facts from other aggregates that the handler reads before deciding; the decider cannot load them itself.
 * `pairOf*` is the id of an active pair the product is already in, or null.
 */
export interface AssociationContext {
  readonly primary: RegisteredProduct | null;
  readonly secondary: RegisteredProduct | null;
  readonly pairOfPrimary: string | null;
  readonly pairOfSecondary: string | null;
}

/** Make two registered products an HA pair under a new pair id. */
export type AssociateProducts = {
  readonly type: 'AssociateProducts';
  readonly data: {
    readonly pairId: string;
    readonly primarySerial: string;
    readonly secondarySerial: string;
  };
  readonly context: AssociationContext;
  readonly metadata: HaPairCommandMetadata;
};

/** Break up an active HA pair. */
export type DissociateProducts = {
  readonly type: 'DissociateProducts';
  readonly data: { readonly pairId: string };
  readonly metadata: HaPairCommandMetadata;
};

/** The commands of one pair stream (`pair-<pairId>`). */
export type HaPairCommand = AssociateProducts | DissociateProducts;
