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

/** Every command the License aggregate decides. */
export type LicenseCommand = GrantLicense | RenewLicense | RevokeLicense;
