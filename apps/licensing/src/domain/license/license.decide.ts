import { LicenseStateV1, STATEFUL_SYNC_SKU, assertNever, findModel, findSku, type Decider } from '#shared/contracts';
import type {
  GrantLicense,
  LicenseCommand,
  RecordExpiry,
  RenewLicense,
  RevokeLicense,
  TransferLicense,
  WarnExpiringSoon,
} from './license.commands.js';
import { licenseErrors } from './license.errors.js';
import { entitlementChanged, entitlementExpiringSoon, type LicenseEvent } from './license.events.js';
import { evolve, initialState, type LicenseState } from './license.state.js';
import { hasExpiredAt, isInWarningWindowAt, isReachedAt, isSameInstant } from './license.status.js';

/** Turns a license command into EntitlementChanged events, or throws the RuleViolation it breaks. */
export function decide(command: LicenseCommand, state: LicenseState): LicenseEvent[] {
  switch (command.type) {
    case 'GrantLicense':
      return grant(command, state);
    case 'RenewLicense':
      return renew(command, state);
    case 'RevokeLicense':
      return revoke(command, state);
    case 'RecordExpiry':
      return recordExpiry(command, state);
    case 'WarnExpiringSoon':
      return warnExpiringSoon(command, state);
    case 'TransferLicense':
      return transfer(command, state);
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

// The scheduler's and the transfer's commands are idempotent: "nothing to do" is no events, not an error, so
// a retry, a redelivery or a second scheduler instance changes nothing. Only a license that does not exist is
// an error (the caller found its id somewhere it should not have).

/**
 * The license keeps its state; only the fact that this expiry passed is recorded. `changedAt` is the expiry
 * instant itself (when the change took effect); the envelope's `occurredAt` says when it was recorded, which is
 * later after a downtime.
 */
function recordExpiry({ data, metadata }: RecordExpiry, state: LicenseState): LicenseEvent[] {
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(data.licenseId);
    case 'revoked':
      return [];
    case 'active': {
      const { expiresAt } = state.license;
      if (expiresAt === null || !hasExpiredAt(expiresAt, metadata.now)) return [];
      if (isSameInstant(state.expiryRecordedFor, expiresAt)) return [];
      return [entitlementChanged('expired', state.license, new Date(expiresAt).toISOString())];
    }
    default:
      return assertNever(state, 'license state');
  }
}

function warnExpiringSoon({ data, metadata }: WarnExpiringSoon, state: LicenseState): LicenseEvent[] {
  if (!Number.isInteger(data.windowDays) || data.windowDays < 1) throw licenseErrors.invalidWarningWindow(data.windowDays);
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(data.licenseId);
    case 'revoked':
      return [];
    case 'active': {
      const { expiresAt } = state.license;
      if (!isInWarningWindowAt(expiresAt, metadata.now, data.windowDays)) return [];
      if (isSameInstant(state.warnedFor, expiresAt)) return [];
      return [entitlementExpiringSoon(state.license, data.windowDays, metadata.now.toISOString())];
    }
    default:
      return assertNever(state, 'license state');
  }
}

/**
 * An active license moves with its expiry and its trial flag; only the serial changes. A revoked license
 * stays where it is, and a license no longer on `fromSerial` (already on `toSerial`, or moved on since)
 * is not moved back.
 */
function transfer({ data, metadata }: TransferLicense, state: LicenseState): LicenseEvent[] {
  for (const serial of [data.fromSerial, data.toSerial]) {
    if (!LicenseStateV1.shape.serial.safeParse(serial).success) throw licenseErrors.invalidSerial(serial);
  }
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(data.licenseId);
    case 'revoked':
      return [];
    case 'active': {
      const { license } = state;
      if (license.serial !== data.fromSerial || data.toSerial === data.fromSerial) return [];
      const now = metadata.now.toISOString();
      return [entitlementChanged('transferred', { ...license, serial: data.toSerial }, now, data.fromSerial)];
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
