import { assertNever, type LicenseStateV1 } from '#shared/contracts';
import type { LicenseEvent } from './license.events.js';

/**
 * Which expiry of the license the scheduler has already acted on. Both are keyed by the `expiresAt` they were
 * issued for, so a renewal to a new expiry makes a new warning and a new recorded expiry possible, while the
 * same expiry is never warned about or recorded twice.
 */
export interface ExpiryTracking {
  /** The `expiresAt` an EntitlementExpiringSoon was issued for, or null. */
  readonly warnedFor: string | null;
  /** The `expiresAt` whose passing was recorded (change 'expired'), or null. */
  readonly expiryRecordedFor: string | null;
}

/** A license stream with a license whose recorded status is active: it may still be past its expiry. */
export type ActiveLicenseState = { readonly status: 'active'; readonly license: LicenseStateV1 } & ExpiryTracking;

/** A license stream with a revoked license: revoked for good, whatever its expiry. */
export type RevokedLicenseState = { readonly status: 'revoked'; readonly license: LicenseStateV1 } & ExpiryTracking;

/** A license stream folded: nothing granted yet, an active license (possibly past its expiry), or a revoked one. */
export type LicenseState = { readonly status: 'none' } | ActiveLicenseState | RevokedLicenseState;

export const initialState: LicenseState = { status: 'none' };

const NOTHING_TRACKED: ExpiryTracking = { warnedFor: null, expiryRecordedFor: null };

/**
 * Every event carries the full license after the change, so the new license is that license whatever the
 * change was; the recorded status picks the branch. Warnings and recorded expiries add to the tracking.
 */
export function evolve(state: LicenseState, event: LicenseEvent): LicenseState {
  const tracking: ExpiryTracking =
    state.status === 'none' ? NOTHING_TRACKED : { warnedFor: state.warnedFor, expiryRecordedFor: state.expiryRecordedFor };
  switch (event.type) {
    case 'EntitlementChanged': {
      const { change, license } = event.data;
      return withLicense(license, change === 'expired' ? { ...tracking, expiryRecordedFor: license.expiresAt } : tracking);
    }
    case 'EntitlementExpiringSoon':
      return withLicense(event.data.license, { ...tracking, warnedFor: event.data.license.expiresAt });
    default:
      return assertNever(event, 'license event');
  }
}

/** The state's branch is the license's recorded status, so the two can never disagree. */
function withLicense(license: LicenseStateV1, tracking: ExpiryTracking): LicenseState {
  return { status: license.status, license, ...tracking };
}
