import { assertNever, type LicenseStateV1 } from '#shared/contracts';
import type { LicenseEvent } from './license.events.js';

/** A license stream folded: nothing granted yet, an active license (possibly past its expiry), or a revoked one. */
export type LicenseState =
  | { readonly status: 'none' }
  | { readonly status: 'active'; readonly license: LicenseStateV1 }
  | { readonly status: 'revoked'; readonly license: LicenseStateV1 };

export const initialState: LicenseState = { status: 'none' };

/**
 * Every event carries the full license after the change, so the new state is that license whatever the
 * change was; the recorded status picks the branch.
 */
export function evolve(_state: LicenseState, event: LicenseEvent): LicenseState {
  switch (event.type) {
    case 'EntitlementChanged':
      return fromLicense(event.data.license);
    default:
      return assertNever(event.type, 'license event');
  }
}

function fromLicense(license: LicenseStateV1): LicenseState {
  switch (license.status) {
    case 'active':
      return { status: 'active', license };
    case 'revoked':
      return { status: 'revoked', license };
    default:
      return assertNever(license.status, 'license status');
  }
}
