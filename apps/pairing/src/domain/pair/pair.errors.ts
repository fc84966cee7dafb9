import { RuleViolation } from '#shared/contracts';

export { productNotFound } from '../product/product.errors.js';

/** Stable codes of the pair rules; the HTTP layer exposes them, so never rename one. */
export const PairErrorCode = {
  SAME_PRODUCT: 'SAME_PRODUCT',
  PRODUCT_NOT_FOUND: 'PRODUCT_NOT_FOUND',
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  ACCOUNT_MISMATCH: 'ACCOUNT_MISMATCH',
  ALREADY_PAIRED: 'ALREADY_PAIRED',
  PAIR_ALREADY_EXISTS: 'PAIR_ALREADY_EXISTS',
  PAIR_NOT_FOUND: 'PAIR_NOT_FOUND',
  PAIR_DISSOCIATED: 'PAIR_DISSOCIATED',
  UNIT_NOT_IN_PAIR: 'UNIT_NOT_IN_PAIR',
} as const;

/** One of the pair rule codes. */
export type PairErrorCode = (typeof PairErrorCode)[keyof typeof PairErrorCode];

/** A unit cannot be its own failover peer. */
export const sameProduct = (serial: string): RuleViolation =>
  new RuleViolation(PairErrorCode.SAME_PRODUCT, 'conflict', `Product "${serial}" cannot be paired with itself`);

/** Failover needs identical hardware on both sides. */
export const modelMismatch = (primaryModel: string, secondaryModel: string): RuleViolation =>
  new RuleViolation(
    PairErrorCode.MODEL_MISMATCH,
    'conflict',
    `The Primary is a "${primaryModel}" but the Secondary is a "${secondaryModel}": both must be the same model`,
  );

/** Licenses are shared only within one account. */
export const accountMismatch = (primaryAccountId: string, secondaryAccountId: string): RuleViolation =>
  new RuleViolation(
    PairErrorCode.ACCOUNT_MISMATCH,
    'conflict',
    `The Primary belongs to account "${primaryAccountId}" but the Secondary to "${secondaryAccountId}": both must be in the same account`,
  );

/** A product is in at most one active pair, so its licenses flow in one direction only. */
export const alreadyPaired = (serial: string, pairId: string): RuleViolation =>
  new RuleViolation(PairErrorCode.ALREADY_PAIRED, 'conflict', `Product "${serial}" is already in pair "${pairId}"`);

/** Pair ids are never reused, not even after dissociation, so a pair's history stays one story. */
export const pairAlreadyExists = (pairId: string): RuleViolation =>
  new RuleViolation(PairErrorCode.PAIR_ALREADY_EXISTS, 'conflict', `Pair "${pairId}" already exists`);

export const pairNotFound = (pairId: string): RuleViolation =>
  new RuleViolation(PairErrorCode.PAIR_NOT_FOUND, 'not-found', `Pair "${pairId}" does not exist`);

/** Dissociation is final; a pair cannot be broken up twice. */
export const pairDissociated = (pairId: string): RuleViolation =>
  new RuleViolation(PairErrorCode.PAIR_DISSOCIATED, 'conflict', `Pair "${pairId}" is already dissociated`);

/** Only a unit of the pair can be replaced in it. */
export const unitNotInPair = (serial: string, pairId: string): RuleViolation =>
  new RuleViolation(PairErrorCode.UNIT_NOT_IN_PAIR, 'conflict', `Product "${serial}" is not a unit of pair "${pairId}"`);

/** A replacement must be another product than the pair's two units, or a unit would be its own peer. */
export const replacementInPair = (serial: string, pairId: string): RuleViolation =>
  new RuleViolation(
    PairErrorCode.SAME_PRODUCT,
    'conflict',
    `Product "${serial}" is already a unit of pair "${pairId}" and cannot replace one of its units`,
  );

/** The replacement takes over a unit of the pair, so it must be the pair's model (identical hardware). */
export const replacementModelMismatch = (pairModel: string, replacementModel: string): RuleViolation =>
  new RuleViolation(
    PairErrorCode.MODEL_MISMATCH,
    'conflict',
    `The pair is a "${pairModel}" but the replacement is a "${replacementModel}": both must be the same model`,
  );

/** Licenses move to the replacement's pair only within one account. */
export const replacementAccountMismatch = (pairAccountId: string, replacementAccountId: string): RuleViolation =>
  new RuleViolation(
    PairErrorCode.ACCOUNT_MISMATCH,
    'conflict',
    `The pair belongs to account "${pairAccountId}" but the replacement to "${replacementAccountId}": both must be in the same account`,
  );
