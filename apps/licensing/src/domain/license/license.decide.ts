import {
  LicenseStateV1,
  STATEFUL_SYNC_SKU,
  assertNever,
  decideByType,
  findModel,
  findSku,
  hasExpiredAt,
  isExpiringSoonAt,
  isReachedAt,
  isSameInstant,
  type Decider,
} from '#shared/contracts';
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
import { licenseChanged, licenseExpiringSoon, type LicenseEvent } from './license.events.js';
import { evolve, initialState, type ActiveLicenseState, type LicenseState } from './license.state.js';

/** Turns a license command into the events it causes, or throws the RuleViolation it breaks. */
export const decide = decideByType<LicenseCommand, LicenseEvent, LicenseState>('license command', {
  GrantLicense: grant,
  RenewLicense: renew,
  RevokeLicense: revoke,
  RecordExpiry: recordExpiry,
  WarnExpiringSoon: warnExpiringSoon,
  TransferLicense: transfer,
});

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
  return [licenseChanged('granted', license, now)];
}

function renew({ data, metadata }: RenewLicense, state: LicenseState): LicenseEvent[] {
  const { license } = activeLicense(state, data.licenseId, 'refuse');
  if (license.expiresAt === null) throw licenseErrors.licensePerpetual(license.licenseId);
  assertFutureExpiry(data.expiresAt, metadata.now);
  // An expired license may be renewed (that is how it becomes usable again); only the date must move forward.
  if (Date.parse(data.expiresAt) <= Date.parse(license.expiresAt)) {
    throw licenseErrors.renewalNotLater(license.licenseId, data.expiresAt, license.expiresAt);
  }
  return [licenseChanged('renewed', { ...license, expiresAt: data.expiresAt }, metadata.now.toISOString())];
}

function revoke({ data, metadata }: RevokeLicense, state: LicenseState): LicenseEvent[] {
  const { license } = activeLicense(state, data.licenseId, 'refuse');
  const now = metadata.now.toISOString();
  return [licenseChanged('revoked', { ...license, status: 'revoked', revokedAt: now }, now)];
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
  const active = activeLicense(state, data.licenseId, 'ignore');
  if (active === null) return [];
  const { expiresAt } = active.license;
  if (expiresAt === null || !hasExpiredAt(expiresAt, metadata.now)) return [];
  if (isSameInstant(active.expiryRecordedFor, expiresAt)) return [];
  return [licenseChanged('expired', active.license, new Date(expiresAt).toISOString())];
}

function warnExpiringSoon({ data, metadata }: WarnExpiringSoon, state: LicenseState): LicenseEvent[] {
  if (!Number.isInteger(data.windowDays) || data.windowDays < 1) throw licenseErrors.invalidWarningWindow(data.windowDays);
  const active = activeLicense(state, data.licenseId, 'ignore');
  if (active === null) return [];
  const { expiresAt } = active.license;
  if (!isExpiringSoonAt(expiresAt, metadata.now, data.windowDays)) return [];
  if (isSameInstant(active.warnedFor, expiresAt)) return [];
  return [licenseExpiringSoon(active.license, data.windowDays, metadata.now.toISOString())];
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
  const active = activeLicense(state, data.licenseId, 'ignore');
  if (active === null) return [];
  const { license } = active;
  if (license.serial !== data.fromSerial || data.toSerial === data.fromSerial) return [];
  const now = metadata.now.toISOString();
  return [licenseChanged('transferred', { ...license, serial: data.toSerial }, now, data.fromSerial)];
}

/**
 * The one switch over the stream's state for every command but the grant. A license that does not exist is an
 * error for all of them. A revoked license refuses the operator's commands (`'refuse'`: renew, revoke) and is
 * nothing to do for the idempotent ones (`'ignore'`: the scheduler's and the transfer's), which get null.
 */
function activeLicense(state: LicenseState, licenseId: string, ifRevoked: 'refuse'): ActiveLicenseState;
function activeLicense(state: LicenseState, licenseId: string, ifRevoked: 'ignore'): ActiveLicenseState | null;
function activeLicense(state: LicenseState, licenseId: string, ifRevoked: 'refuse' | 'ignore'): ActiveLicenseState | null {
  switch (state.status) {
    case 'none':
      throw licenseErrors.licenseNotFound(licenseId);
    case 'revoked':
      if (ifRevoked === 'ignore') return null;
      throw licenseErrors.licenseRevoked(state.license.licenseId, state.license.revokedAt);
    case 'active':
      return state;
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
