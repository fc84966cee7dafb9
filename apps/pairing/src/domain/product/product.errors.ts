import { MODEL_CATALOG, RuleViolation } from '#shared/contracts';

/** Stable codes of the product rules; the HTTP layer exposes them, so never rename one. */
export const ProductErrorCode = {
  PRODUCT_ALREADY_REGISTERED: 'PRODUCT_ALREADY_REGISTERED',
  PRODUCT_NOT_FOUND: 'PRODUCT_NOT_FOUND',
  UNKNOWN_MODEL: 'UNKNOWN_MODEL',
  INVALID_SERIAL: 'INVALID_SERIAL',
  INVALID_FIRMWARE_VERSION: 'INVALID_FIRMWARE_VERSION',
} as const;

/** One of the product rule codes. */
export type ProductErrorCode = (typeof ProductErrorCode)[keyof typeof ProductErrorCode];

/** A serial identifies one product; registering it twice would fork its history. */
export const productAlreadyRegistered = (serial: string): RuleViolation =>
  new RuleViolation(ProductErrorCode.PRODUCT_ALREADY_REGISTERED, 'conflict', `Product "${serial}" is already registered`);

/** Only registered products can change firmware or be paired. */
export const productNotFound = (serial: string): RuleViolation =>
  new RuleViolation(ProductErrorCode.PRODUCT_NOT_FOUND, 'not-found', `Product "${serial}" is not registered`);

/** Licensing and stateful sync depend on the model, so only catalogued models are accepted. */
export const unknownModel = (model: string): RuleViolation =>
  new RuleViolation(
    ProductErrorCode.UNKNOWN_MODEL,
    'invalid',
    `Model "${model}" is not in the model catalog; valid models: ${MODEL_CATALOG.map((m) => `"${m.model}"`).join(', ')} (GET /models)`,
  );

export const invalidSerial = (serial: string): RuleViolation =>
  new RuleViolation(
    ProductErrorCode.INVALID_SERIAL,
    'invalid',
    `Serial "${serial}" is not a valid serial: it must be 12 characters 0-9 or A-F`,
  );

/** Firmware versions are compared numerically, so they must parse as dot-separated numbers. */
export const invalidFirmwareVersion = (version: string): RuleViolation =>
  new RuleViolation(
    ProductErrorCode.INVALID_FIRMWARE_VERSION,
    'invalid',
    `Firmware version "${version}" is not valid: it must be two to four dot-separated numbers such as 7.0.1`,
  );
