import type { EntitlementChangedV1, LicenseStateV1, LicensingEvent } from '#shared/contracts';

/** The License aggregate's events are exactly the licensing service's published events. */
export type LicenseEvent = LicensingEvent;

/**
 * What happened to a license. The published event types keep their versioned names (EntitlementChanged,
 * EntitlementExpiringSoon); everywhere else the concept is a license (docs/decisions.md §42).
 */
export type LicenseChange = EntitlementChangedV1['change'];

/** The event store stream that holds one license's events. */
export function licenseStreamId(licenseId: string): string {
  return `license-${licenseId}`;
}

/** A license changed (EntitlementChanged); `license` is the whole license after the change, so consumers need no history. */
export function licenseChanged(
  change: LicenseChange,
  license: LicenseStateV1,
  changedAt: string,
  transferredFrom?: string,
): LicenseEvent {
  return {
    type: 'EntitlementChanged',
    data: { change, license, ...(transferredFrom === undefined ? {} : { transferredFrom }), changedAt },
  };
}

/** A license entered the warning window of `windowDays` days (EntitlementExpiringSoon). */
export function licenseExpiringSoon(license: LicenseStateV1, windowDays: number, warnedAt: string): LicenseEvent {
  return { type: 'EntitlementExpiringSoon', data: { license, windowDays, warnedAt } };
}
