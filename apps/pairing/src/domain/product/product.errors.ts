import { MODEL_CATALOG, violationsOf, type RuleViolation } from '#shared/contracts';

/**
 * The maker of the Product aggregate's rule errors, with the stable code and kind of every rule it enforces; the HTTP
 * layer exposes them, so never rename one.
 */
const violation = violationsOf({
  PRODUCT_ALREADY_REGISTERED: 'conflict',
  PRODUCT_NOT_FOUND: 'not-found',
  UNKNOWN_MODEL: 'invalid',
  INVALID_SERIAL: 'invalid',
  INVALID_FIRMWARE_VERSION: 'invalid',
});

/** A serial identifies one product; registering it twice would fork its history. */
export const productAlreadyRegistered = (serial: string): RuleViolation =>
  violation('PRODUCT_ALREADY_REGISTERED', `Product "${serial}" is already registered`);

/** Only registered products can change firmware or be paired. */
export const productNotFound = (serial: string): RuleViolation =>
  violation('PRODUCT_NOT_FOUND', `Product "${serial}" is not registered`);

/** Licensing and stateful sync depend on the model, so only catalogued models are accepted. */
export const unknownModel = (model: string): RuleViolation =>
  violation(
    'UNKNOWN_MODEL',
    `Model "${model}" is not in the model catalog; valid models: ${MODEL_CATALOG.map((m) => `"${m.model}"`).join(', ')} (GET /models)`,
  );

export const invalidSerial = (serial: string): RuleViolation =>
  violation('INVALID_SERIAL', `Serial "${serial}" is not a valid serial: it must be 12 characters 0-9 or A-F`);

/** Firmware versions are compared numerically, so they must parse as dot-separated numbers. */
export const invalidFirmwareVersion = (version: string): RuleViolation =>
  violation(
    'INVALID_FIRMWARE_VERSION',
    `Firmware version "${version}" is not valid: it must be two to four dot-separated numbers such as 7.0.1`,
  );
