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

/** Whether two instants (or both "none") are the same, whatever offset or precision they are written with. */
export function isSameInstant(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return Date.parse(a) === Date.parse(b);
}

export const DAY_MS = 86_400_000;

/**
 * Whether an expiry lies in the warning window at `now`: not reached yet, and at most `windowDays` days (of
 * 24 hours) away. The window is closed at its far end, so an expiry exactly `windowDays` away is in it.
 */
export function isInWarningWindowAt(expiresAt: string | null, now: Date, windowDays: number): boolean {
  if (expiresAt === null || isReachedAt(expiresAt, now)) return false;
  return Date.parse(expiresAt) <= now.getTime() + windowDays * DAY_MS;
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
