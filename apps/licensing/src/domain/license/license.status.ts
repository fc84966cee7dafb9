import { assertNever, type LicenseStateV1 } from '#shared/contracts';

/** A license's status at an instant: the recorded status, with an active license past its expiry reported as expired. */
export type LicenseStatus = 'active' | 'expired' | 'revoked';

/**
 * Whether an instant has been reached at `now`. Instants are compared as numbers because ISO strings with
 * different offsets or precisions do not sort as text.
 */
export function isReachedAt(instant: string, now: Date): boolean {
  return Date.parse(instant) <= now.getTime();
}

/** A license expires at `expiresAt` itself, so a trial ending exactly now is already expired; null never expires. */
export function hasExpiredAt(expiresAt: string | null, now: Date): boolean {
  return expiresAt !== null && isReachedAt(expiresAt, now);
}

/**
 * The status to report for a license at `now`. Revocation wins over expiry: a revoked license stays revoked
 * whatever its expiry. The license is its latest recorded state, so this answers "now", not "as of" a past
 * instant before a later renewal or revocation.
 */
export function licenseStatusAt(license: LicenseStateV1, now: Date): LicenseStatus {
  switch (license.status) {
    case 'revoked':
      return 'revoked';
    case 'active':
      return hasExpiredAt(license.expiresAt, now) ? 'expired' : 'active';
    default:
      return assertNever(license.status, 'license status');
  }
}

/** Whether the product may use the license at `now`. */
export function isLicenseActiveAt(license: LicenseStateV1, now: Date): boolean {
  return licenseStatusAt(license, now) === 'active';
}
