import { violationsOf } from '#shared/contracts';

/**
 * The maker of the License aggregate's rule errors, with the stable code and kind of every rule it enforces. Codes are
 * part of the public contract (the HTTP layer maps the kind to a status), so a code is never renamed.
 */
const violation = violationsOf({
  UNKNOWN_SKU: 'invalid',
  TRIAL_REQUIRES_EXPIRY: 'invalid',
  INVALID_EXPIRY: 'invalid',
  EXPIRY_IN_PAST: 'invalid',
  PRODUCT_NOT_FOUND: 'not-found',
  STATEFUL_SYNC_UNSUPPORTED: 'conflict',
  LICENSE_ALREADY_EXISTS: 'conflict',
  LICENSE_NOT_FOUND: 'not-found',
  LICENSE_REVOKED: 'conflict',
  LICENSE_PERPETUAL: 'conflict',
  RENEWAL_NOT_LATER: 'conflict',
  INVALID_WARNING_WINDOW: 'invalid',
  INVALID_SERIAL: 'invalid',
});

/** One factory per rule, so each message names the values that broke it. */
export const licenseErrors = {
  unknownSku: (sku: string) => violation('UNKNOWN_SKU', `SKU "${sku}" is not in the license catalog`),
  trialRequiresExpiry: (sku: string) =>
    violation(
      'TRIAL_REQUIRES_EXPIRY',
      `A trial license of SKU "${sku}" needs an expiry date; only a paid license can be perpetual`,
    ),
  invalidExpiry: (expiresAt: string) =>
    violation('INVALID_EXPIRY', `Expiry "${expiresAt}" is not an ISO 8601 date-time with a time zone offset`),
  expiryInPast: (expiresAt: string, now: Date) =>
    violation('EXPIRY_IN_PAST', `Expiry ${expiresAt} is not after the current time ${now.toISOString()}`),
  productNotFound: (serial: string) => violation('PRODUCT_NOT_FOUND', `No product with serial "${serial}" is registered`),
  statefulSyncUnsupported: (serial: string, model: string) =>
    violation(
      'STATEFUL_SYNC_UNSUPPORTED',
      `Product "${serial}" is a "${model}", which does not support Stateful Synchronization`,
    ),
  licenseAlreadyExists: (licenseId: string) => violation('LICENSE_ALREADY_EXISTS', `License "${licenseId}" already exists`),
  licenseNotFound: (licenseId: string) => violation('LICENSE_NOT_FOUND', `License "${licenseId}" does not exist`),
  licenseRevoked: (licenseId: string, revokedAt: string | null) =>
    violation('LICENSE_REVOKED', `License "${licenseId}" was revoked${revokedAt === null ? '' : ` at ${revokedAt}`}`),
  licensePerpetual: (licenseId: string) =>
    violation('LICENSE_PERPETUAL', `License "${licenseId}" is perpetual, so there is no expiry to renew`),
  renewalNotLater: (licenseId: string, expiresAt: string, currentExpiresAt: string) =>
    violation(
      'RENEWAL_NOT_LATER',
      `New expiry ${expiresAt} of license "${licenseId}" is not later than its current expiry ${currentExpiresAt}`,
    ),
  invalidWarningWindow: (windowDays: number) =>
    violation('INVALID_WARNING_WINDOW', `A warning window of ${windowDays} days is not a whole number of days of 1 or more`),
  invalidSerial: (serial: string) => violation('INVALID_SERIAL', `"${serial}" is not a serial (12 characters 0-9A-F)`),
};
