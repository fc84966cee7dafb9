import { violationsOf, type RuleTable, type RuleViolation } from '#shared/contracts';

export { productNotFound } from '../product/product.errors.js';

/**
 * The stable code and kind of every rule the Pair aggregate enforces (PRODUCT_NOT_FOUND is the product's, raised
 * here too). The HTTP layer exposes the codes, so a code is never renamed.
 */
export const PAIR_RULES = {
  SAME_PRODUCT: 'conflict',
  PRODUCT_NOT_FOUND: 'not-found',
  MODEL_MISMATCH: 'conflict',
  ACCOUNT_MISMATCH: 'conflict',
  ALREADY_PAIRED: 'conflict',
  PAIR_ALREADY_EXISTS: 'conflict',
  PAIR_NOT_FOUND: 'not-found',
  PAIR_DISSOCIATED: 'conflict',
  UNIT_NOT_IN_PAIR: 'conflict',
} as const satisfies RuleTable;

/** One of the pair rule codes. */
export type PairErrorCode = keyof typeof PAIR_RULES;

const violation = violationsOf(PAIR_RULES);

/** A unit cannot be its own failover peer. */
export const sameProduct = (serial: string): RuleViolation =>
  violation('SAME_PRODUCT', `Product "${serial}" cannot be paired with itself`);

/** Failover needs identical hardware on both sides. */
export const modelMismatch = (primaryModel: string, secondaryModel: string): RuleViolation =>
  violation(
    'MODEL_MISMATCH',
    `The Primary is a "${primaryModel}" but the Secondary is a "${secondaryModel}": both must be the same model`,
  );

/** Licenses are shared only within one account. */
export const accountMismatch = (primaryAccountId: string, secondaryAccountId: string): RuleViolation =>
  violation(
    'ACCOUNT_MISMATCH',
    `The Primary belongs to account "${primaryAccountId}" but the Secondary to "${secondaryAccountId}": both must be in the same account`,
  );

/** A product is in at most one active pair, so its licenses flow in one direction only. */
export const alreadyPaired = (serial: string, pairId: string): RuleViolation =>
  violation('ALREADY_PAIRED', `Product "${serial}" is already in pair "${pairId}"`);

/** Pair ids are never reused, not even after dissociation, so a pair's history stays one story. */
export const pairAlreadyExists = (pairId: string): RuleViolation =>
  violation('PAIR_ALREADY_EXISTS', `Pair "${pairId}" already exists`);

export const pairNotFound = (pairId: string): RuleViolation => violation('PAIR_NOT_FOUND', `Pair "${pairId}" does not exist`);

/** Dissociation is final; a pair cannot be broken up twice. */
export const pairDissociated = (pairId: string): RuleViolation =>
  violation('PAIR_DISSOCIATED', `Pair "${pairId}" is already dissociated`);

/** Only a unit of the pair can be replaced in it. */
export const unitNotInPair = (serial: string, pairId: string): RuleViolation =>
  violation('UNIT_NOT_IN_PAIR', `Product "${serial}" is not a unit of pair "${pairId}"`);

/** A replacement must be another product than the pair's two units, or a unit would be its own peer. */
export const replacementInPair = (serial: string, pairId: string): RuleViolation =>
  violation('SAME_PRODUCT', `Product "${serial}" is already a unit of pair "${pairId}" and cannot replace one of its units`);

/** The replacement takes over a unit of the pair, so it must be the pair's model (identical hardware). */
export const replacementModelMismatch = (pairModel: string, replacementModel: string): RuleViolation =>
  violation(
    'MODEL_MISMATCH',
    `The pair is a "${pairModel}" but the replacement is a "${replacementModel}": both must be the same model`,
  );

/** Licenses move to the replacement's pair only within one account. */
export const replacementAccountMismatch = (pairAccountId: string, replacementAccountId: string): RuleViolation =>
  violation(
    'ACCOUNT_MISMATCH',
    `The pair belongs to account "${pairAccountId}" but the replacement to "${replacementAccountId}": both must be in the same account`,
  );
