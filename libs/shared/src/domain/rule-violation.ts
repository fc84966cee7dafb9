/**
 * How a broken rule is reported to the caller. `invalid` → 400, `not-found` → 404, `conflict` → 409.
 * The HTTP layer maps the kind to a status and the code is part of the public contract.
 */
export type RuleViolationKind = 'invalid' | 'not-found' | 'conflict';

/** A named business rule that a command broke; `code` is stable (for example `MODEL_MISMATCH`). */
export class RuleViolation extends Error {
  constructor(
    readonly code: string,
    readonly kind: RuleViolationKind,
    message: string,
  ) {
    super(message);
    this.name = 'RuleViolation';
  }
}
