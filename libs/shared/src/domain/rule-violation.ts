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

/** An aggregate's rules: each stable code and the kind it is reported as. */
export type RuleTable = Readonly<Record<string, RuleViolationKind>>;

/**
 * The maker of an aggregate's rule errors: `violation(code, message)` takes the kind from the aggregate's rule table,
 * so each code is reported as one kind wherever it is raised.
 */
export function violationsOf<Rules extends RuleTable>(
  rules: Rules,
): (code: keyof Rules & string, message: string) => RuleViolation {
  return (code, message) => new RuleViolation(code, rules[code]!, message);
}
