import type { CommandMetadata } from '#shared/contracts';
/** What every license command carries besides its data: the instant it is decided at, from the handler's clock. */
export type LicenseCommandMetadata = CommandMetadata;

/** A product as the pairing service knows it, looked up by the handler before granting. */
export interface LicensedProduct {
  readonly serial: string;
  readonly model: string;
}

/** Grants a new license on a product. `expiresAt` is an ISO instant, or null for a perpetual license. */
export interface GrantLicense {
  readonly type: 'GrantLicense';
  readonly data: {
    readonly licenseId: string;
    readonly serial: string;
    readonly sku: string;
    readonly expiresAt: string | null;
    readonly trial: boolean;
  };
  /**
   * Facts the handler fetched from other services. Kept apart from `data` because the caller does not send
   * them; `product` is null when pairing does not know the serial.
   */
  readonly context: { readonly product: LicensedProduct | null };
  readonly metadata: LicenseCommandMetadata;
}

/** Moves a license's expiry to a later instant (ISO). */
export interface RenewLicense {
  readonly type: 'RenewLicense';
  readonly data: { readonly licenseId: string; readonly expiresAt: string };
  readonly metadata: LicenseCommandMetadata;
}

/** Withdraws a license for good. */
export interface RevokeLicense {
  readonly type: 'RevokeLicense';
  readonly data: { readonly licenseId: string };
  readonly metadata: LicenseCommandMetadata;
}

/**
 * Records that an active license's expiry has passed (sent by the expiry scheduler). Nothing to do before the
 * expiry, for a perpetual or revoked license, or when this expiry was already recorded.
 */
export interface RecordExpiry {
  readonly type: 'RecordExpiry';
  readonly data: { readonly licenseId: string };
  readonly metadata: LicenseCommandMetadata;
}

/**
 * Announces that an active license expires within `windowDays` days (sent by the expiry scheduler), once per
 * expiry: nothing to do outside the window or when this expiry was already announced.
 */
export interface WarnExpiringSoon {
  readonly type: 'WarnExpiringSoon';
  readonly data: { readonly licenseId: string; readonly windowDays: number };
  readonly metadata: LicenseCommandMetadata;
}

/**
 * Moves a license from the unit it is on (`fromSerial`, e.g. a failed Primary) to another (`toSerial`).
 * Nothing to do when the license is no longer on `fromSerial` (already moved) or was revoked.
 */
export interface TransferLicense {
  readonly type: 'TransferLicense';
  readonly data: { readonly licenseId: string; readonly fromSerial: string; readonly toSerial: string };
  readonly metadata: LicenseCommandMetadata;
}

/** Every command the License aggregate decides. */
export type LicenseCommand = GrantLicense | RenewLicense | RevokeLicense | RecordExpiry | WarnExpiringSoon | TransferLicense;
