import { violationsOf, type RuleViolation } from '#shared/contracts';

export { productNotFound } from '../product/product.errors.js';

/**
 * The maker of the Pair aggregate's rule errors, with the stable code and kind of every rule it enforces
 * (PRODUCT_NOT_FOUND is the product's, raised here too). The HTTP layer exposes the codes, so a code is never renamed.
 */
const violation = violationsOf({
  SAME_PRODUCT: 'conflict',
  PRODUCT_NOT_FOUND: 'not-found',
  MODEL_MISMATCH: 'conflict',
  ACCOUNT_MISMATCH: 'conflict',
  ALREADY_PAIRED: 'conflict',
  PAIR_ALREADY_EXISTS: 'conflict',
  PAIR_NOT_FOUND: 'not-found',
  PAIR_DISSOCIATED: 'conflict',
  UNIT_NOT_IN_PAIR: 'conflict',
});

/** A unit cannot be its own failover peer. */
export const sameProduct = (serial: string): RuleViolation =>
  violation('SAME_PRODUCT', `Product "${serial}" cannot be paired with itself`);

/**
 * The two sides the model and account rules compare: the units of a new pair, or a pair and the product replacing
 * one of its units.
 */
const SIDES = { association: ['The Primary', 'the Secondary'], replacement: ['The pair', 'the replacement'] } as const;
export type Sides = keyof typeof SIDES;

/** Failover needs identical hardware on both sides. */
export const modelMismatch = (sides: Sides, model: string, otherModel: string): RuleViolation => {
  const [one, other] = SIDES[sides];
  return violation('MODEL_MISMATCH', `${one} is a "${model}" but ${other} is a "${otherModel}": both must be the same model`);
};

/** Licenses are shared only within one account. */
export const accountMismatch = (sides: Sides, accountId: string, otherAccountId: string): RuleViolation => {
  const [one, other] = SIDES[sides];
  return violation(
    'ACCOUNT_MISMATCH',
    `${one} belongs to account "${accountId}" but ${other} to "${otherAccountId}": both must be in the same account`,
  );
};

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
