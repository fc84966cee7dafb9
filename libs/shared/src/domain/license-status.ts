import type { LicenseStateV1 } from '../contracts/licensing.events.js';
import { assertNever } from './decider.js';

/**
 * When a license may be used and when it expires soon: the rules licensing (its API's status, its expiry
 * scheduler) and the sync agent (the effective set) must agree on, so they live here once. Instants are ISO
 * strings compared as numbers, because ISO strings with different offsets or precisions do not sort as text;
 * `now` is always a parameter, never the clock.
 */

/** A day of the warning window: 24 hours, whatever the calendar does. */
export const DAY_MS = 86_400_000;

/** A license's status at an instant: the recorded status, with an active license past its expiry reported as expired. */
export type LicenseStatus = 'active' | 'expired' | 'revoked';

/** The part of a license the status rules read. */
export type LicenseValidity = Pick<LicenseStateV1, 'status' | 'expiresAt'>;

/** Whether an instant has been reached at `now` (it is `now` or earlier). */
export function isReachedAt(instant: string, now: Date): boolean {
  return Date.parse(instant) <= now.getTime();
}

/** Whether two instants (or both "none") are the same, whatever offset or precision they are written with. */
export function isSameInstant(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return Date.parse(a) === Date.parse(b);
}

/** A license expires at `expiresAt` itself, so a trial ending exactly now is already expired; null never expires. */
export function hasExpiredAt(expiresAt: string | null, now: Date): boolean {
  return expiresAt !== null && isReachedAt(expiresAt, now);
}

/**
 * The status of a license at `now`. Revocation wins over expiry: a revoked license stays revoked whatever its
 * expiry. This is the one place that says what each recorded status means at an instant.
 */
export function licenseStatusAt(license: LicenseValidity, now: Date): LicenseStatus {
  switch (license.status) {
    case 'revoked':
      return 'revoked';
    case 'active':
      return hasExpiredAt(license.expiresAt, now) ? 'expired' : 'active';
    default:
      return assertNever(license.status, 'license status');
  }
}

/** Whether the product may use the license at `now`: not revoked and not expired. */
export function isLicenseUsableAt(license: LicenseValidity, now: Date): boolean {
  return licenseStatusAt(license, now) === 'active';
}

/**
 * Whether an expiry lies in the warning window at `now`: not reached yet (an expired license is past warning),
 * and at most `windowDays` days away. The window is closed at its far end, so an expiry exactly `windowDays`
 * away is in it. A perpetual license never expires soon.
 */
export function isExpiringSoonAt(expiresAt: string | null, now: Date, windowDays: number): boolean {
  if (expiresAt === null || isReachedAt(expiresAt, now)) return false;
  return Date.parse(expiresAt) <= warningWindowEndAt(now, windowDays).getTime();
}

/** The far end of the warning window at `now`: an expiry up to this instant expires soon. */
export function warningWindowEndAt(now: Date, windowDays: number): Date {
  return new Date(now.getTime() + windowDays * DAY_MS);
}

/** The instant an expiry enters the warning window: `windowDays` days before it. */
export function warningStartsAt(expiresAt: string | Date, windowDays: number): Date {
  const at = typeof expiresAt === 'string' ? Date.parse(expiresAt) : expiresAt.getTime();
  return new Date(at - windowDays * DAY_MS);
}

/** The latest of several expiries, as written; null (perpetual) when any is null or there are none. */
export function latestExpiry(expiries: Iterable<string | null>): string | null {
  let latest: string | null = null;
  for (const expiresAt of expiries) {
    if (expiresAt === null) return null;
    if (latest === null || Date.parse(expiresAt) > Date.parse(latest)) latest = expiresAt;
  }
  return latest;
}
