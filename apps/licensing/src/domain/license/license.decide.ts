import { LicenseStateV1, STATEFUL_SYNC_SKU, assertNever, findModel, findSku, type Decider } from '#shared/contracts';
import type { GrantLicense, LicenseCommand, RenewLicense, RevokeLicense } from './license.commands.js';
import { licenseErrors } from './license.errors.js';
import { entitlementChanged, type LicenseEvent } from './license.events.js';
import { evolve, initialState, type LicenseState } from './license.state.js';
import { isReachedAt } from './license.status.js';

/** Turns a license command into EntitlementChanged events, or throws the RuleViolation it breaks. */
export function decide(command: LicenseCommand, state: LicenseState): LicenseEvent[] {
  switch (command.type) {
    case 'GrantLicense':
      return grant(command, state);
    case 'RenewLicense':
      return renew(command, state);
    case 'RevokeLicense':
      return revoke(command, state);
    default:
      return assertNever(command, 'license command');
  }
}

/** The License aggregate, stream `license-<licenseId>`. */
export const licenseDecider: Decider<LicenseCommand, LicenseEvent, LicenseState> = { initialState, decide, evolve };

// The rules run in a fixed order (input, then the product, then the stream) so a caller always gets the same
// error for the same request, and the cheap checks come before the ones that need the lookup.
function grant({ data, context, metadata }: GrantLicense, state: LicenseState): LicenseEvent[] {
  if (findSku(data.sku) === undefined) throw licenseErrors.unknownSku(data.sku);
  if (data.trial && data.expiresAt === null) throw licenseErrors.trialRequiresExpiry(data.sku);
  if (data.expiresAt !== null) assertFutureExpiry(data.expiresAt, metadata.now);
  const { product } = context;
  if (product === null) throw licenseErrors.productNotFound(data.serial);
  // A model missing from the catalog is treated as unsupported: granting the upgrade on it cannot be proven safe.
  if (data.sku === STATEFUL_SYNC_SKU && findModel(product.model)?.statefulSync !== true) {
    throw licenseErrors.statefulSyncUnsupported(product.serial, product.model);
  }
  if (state.status !== 'none') throw licenseErrors.licenseAlreadyExists(data.licenseId);

  const now = metadata.now.toISOString();
  const license: LicenseStateV1 = {
    licenseId: data.licenseId,
    serial: data.serial,
    sku: data.sku,
    trial: data.trial,
    expiresAt: data.expiresAt,
    status: 'active',
    grantedAt: now,
    revokedAt: null,
  };
  return [entitlementChanged('granted', license, now)];
}

function renew({ data, metadata }: RenewLicense, state: LicenseState): LicenseEvent[] {
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(data.licenseId);
    case 'revoked':
      throw licenseErrors.licenseRevoked(state.license.licenseId, state.license.revokedAt);
    case 'active':
      break;
    default:
      return assertNever(state, 'license state');
  }
  const { license } = state;
  if (license.expiresAt === null) throw licenseErrors.licensePerpetual(license.licenseId);
  assertFutureExpiry(data.expiresAt, metadata.now);
  // An expired license may be renewed (that is how it becomes usable again); only the date must move forward.
  if (Date.parse(data.expiresAt) <= Date.parse(license.expiresAt)) {
    throw licenseErrors.renewalNotLater(license.licenseId, data.expiresAt, license.expiresAt);
  }
  return [entitlementChanged('renewed', { ...license, expiresAt: data.expiresAt }, metadata.now.toISOString())];
}

function revoke({ data, metadata }: RevokeLicense, state: LicenseState): LicenseEvent[] {
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(data.licenseId);
    case 'revoked':
      throw licenseErrors.licenseRevoked(state.license.licenseId, state.license.revokedAt);
    case 'active': {
      const now = metadata.now.toISOString();
      return [entitlementChanged('revoked', { ...state.license, status: 'revoked', revokedAt: now }, now)];
    }
    default:
      return assertNever(state, 'license state');
  }
}

// The expiry goes into the event unchanged, so it is checked against the event's own schema here: a decider
// must never emit an event its consumers would reject.
function assertFutureExpiry(expiresAt: string, now: Date): void {
  if (!LicenseStateV1.shape.expiresAt.safeParse(expiresAt).success) throw licenseErrors.invalidExpiry(expiresAt);
  if (isReachedAt(expiresAt, now)) throw licenseErrors.expiryInPast(expiresAt, now);
}
