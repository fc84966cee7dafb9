/**
 * The license list, read SYNCHRONOUSLY from licenses_view (updated inline with every license event). Keyset pages in
 * expiry order: soonest expiry first, perpetual licenses last, ties by license id. `status` is computed against the
 * clock, as everywhere: `expired` is an active license whose expiry has been reached.
 */
import { pageOf, type LicenseStatus, type Page, type Tx } from '#shared';
import { licenseFromRow, licenseView, type LicenseRow, type LicenseView } from '../licenses.js';

/** What the list may be narrowed to; `accountId` null = every account. */
export interface LicenseFilter {
  readonly accountId: string | null;
  readonly sku?: string | undefined;
  readonly status?: LicenseStatus | undefined;
  /** Only licenses with an expiry strictly before this instant (so never a perpetual one). */
  readonly expiresBefore?: string | undefined;
}

interface Row extends LicenseRow {
  expiry_key: string;
}

/** The sort key of a row: its expiry (`infinity` when perpetual) and id. */
export type LicenseCursor = readonly [string, string];

export async function listLicenses(
  tx: Tx,
  filter: LicenseFilter,
  after: LicenseCursor | null,
  limit: number,
  now: Date,
): Promise<Page<LicenseView>> {
  const rows: Row[] = await tx.query(
    `SELECT license_id, serial, sku, trial, expires_at, status, granted_at, revoked_at,
            CASE WHEN expires_at IS NULL THEN 'infinity'
                 ELSE to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END AS expiry_key
       FROM licenses_view
      WHERE ($1::text IS NULL OR account_id = $1)
        AND ($2::text IS NULL OR sku = $2)
        AND ($3::text IS NULL
             OR ($3 = 'revoked' AND status = 'revoked')
             OR ($3 = 'expired' AND status = 'active' AND expires_at <= $4)
             OR ($3 = 'active' AND status = 'active' AND (expires_at IS NULL OR expires_at > $4)))
        AND ($5::timestamptz IS NULL OR expires_at < $5)
        AND ($6::timestamptz IS NULL
             OR (COALESCE(expires_at, 'infinity'::timestamptz), license_id) > ($6::timestamptz, $7::uuid))
      ORDER BY COALESCE(expires_at, 'infinity'::timestamptz), license_id
      LIMIT $8`,
    [
      filter.accountId,
      filter.sku ?? null,
      filter.status ?? null,
      now,
      filter.expiresBefore ?? null,
      after?.[0] ?? null,
      after?.[1] ?? null,
      limit + 1,
    ],
  );
  return pageOf(
    rows,
    limit,
    (r) => [r.expiry_key, r.license_id],
    (r) => licenseView(licenseFromRow(r), now),
  );
}
