import type { CommandMetadata } from '#shared/contracts';
import type { RegisteredProduct } from '../product/product.state.js';

/** What every pair command carries besides its data: the clock reading the handler took. */
export type PairCommandMetadata = CommandMetadata;

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

/** Make two registered products a pair under a new pair id. */
export type AssociateProducts = {
  readonly type: 'AssociateProducts';
  readonly data: {
    readonly pairId: string;
    readonly primarySerial: string;
    readonly secondarySerial: string;
  };
  readonly context: AssociationContext;
  readonly metadata: PairCommandMetadata;
};

/** Break up an active pair. */
export type DissociateProducts = {
  readonly type: 'DissociateProducts';
  readonly data: { readonly pairId: string };
  readonly metadata: PairCommandMetadata;
};

/** The commands of one pair stream (`pair-<pairId>`). */
export type PairCommand = AssociateProducts | DissociateProducts;

/**
 * What the handler reads about the replacement unit before deciding: the product (null when not registered)
 * and the active pair it is already in (null when none).
 */
export interface ReplacementContext {
  readonly replacement: RegisteredProduct | null;
  readonly pairOfReplacement: string | null;
}

/**
 * Swap a failed unit of an active pair for another product of the same model and account (an RMA). It is
 * decided on the old pair's state and writes two streams: the new pair `newPairId` is associated and the old
 * pair is dissociated, in one transaction (see pair.replace.ts), so it is not one of PairCommand.
 */
export type ReplaceUnit = {
  readonly type: 'ReplaceUnit';
  readonly data: {
    readonly pairId: string;
    readonly newPairId: string;
    readonly failedSerial: string;
    readonly replacementSerial: string;
  };
  readonly context: ReplacementContext;
  readonly metadata: PairCommandMetadata;
};
