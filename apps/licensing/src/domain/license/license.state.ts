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

/** A license stream folded: nothing granted yet, an active license (possibly past its expiry), or a revoked one. */
export type LicenseState =
  | { readonly status: 'none' }
  | ({ readonly status: 'active'; readonly license: LicenseStateV1 } & ExpiryTracking)
  | ({ readonly status: 'revoked'; readonly license: LicenseStateV1 } & ExpiryTracking);

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

function withLicense(license: LicenseStateV1, tracking: ExpiryTracking): LicenseState {
  switch (license.status) {
    case 'active':
      return { status: 'active', license, ...tracking };
    case 'revoked':
      return { status: 'revoked', license, ...tracking };
    default:
      return assertNever(license.status, 'license status');
  }
}
