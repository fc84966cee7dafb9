import {
  handleCommand,
  licenseStatusAt,
  queryPrepared,
  type EventStore,
  type LicenseStateV1,
  type LicenseStatus,
  type SqlStatement,
  type StoredEvent,
  type Tx,
} from '#shared';
import type { GrantLicense, RenewLicense, RevokeLicense } from '../domain/license/license.commands.js';
import { licenseDecider } from '../domain/license/license.decide.js';
import { licenseStreamId, type LicenseEvent } from '../domain/license/license.events.js';
import type { LicenseState } from '../domain/license/license.state.js';

/** A license as the HTTP API returns it; `status` is computed against the clock at read time. */
export interface LicenseView extends Omit<LicenseStateV1, 'status'> {
  status: LicenseStatus;
}

export function licenseView(license: LicenseStateV1, now: Date): LicenseView {
  return { ...license, status: licenseStatusAt(license, now) };
}

export function licenseOf(state: LicenseState): LicenseStateV1 {
  if (state.status === 'none') throw new Error('the license has no state');
  return state.license;
}

/**
 * An API request's command (grant, renew, revoke) decided on its license's stream, with the license's row written in
 * the append's own statement (`accountId`: the product's, known at the grant); resolves with the license after it.
 */
export async function decideLicense(
  store: EventStore,
  command: GrantLicense | RenewLicense | RevokeLicense,
  accountId: string | null = null,
): Promise<LicenseStateV1> {
  const { state } = await handleCommand({
    store,
    decider: licenseDecider,
    streamId: licenseStreamId(command.data.licenseId),
    newStream: command.type === 'GrantLicense',
    command,
    project: (after, version) => licenseRowWrite(after, version, accountId),
  });
  return licenseOf(state);
}

/**
 * Keeps licenses_view in step with the license's stream, in the same transaction as the append: the row is the
 * state after the new events (serial, expiry, status, and which expiry was warned about or recorded), guarded
 * by the stream version so an older state never overwrites a newer one. Fits handleCommand's `afterAppend`.
 * `accountId` is the product's account, known at the grant (licensing asks pairing then); a later change keeps the
 * row's, since a license never leaves its account (a transfer moves it to a unit of the same account).
 */
export async function projectLicense(
  tx: Tx,
  events: readonly StoredEvent<LicenseEvent>[],
  state: LicenseState,
  accountId: string | null = null,
): Promise<void> {
  const last = events.at(-1);
  const statement = last && licenseRowWrite(state, last.streamVersion, accountId);
  if (statement) await queryPrepared(tx, statement.name, statement.text, [...statement.values]);
}

/**
 * The write of projectLicense as one statement, for handleCommand's `project` (run in the append's own statement):
 * the license's row at stream version `version`.
 */
export function licenseRowWrite(state: LicenseState, version: number, accountId: string | null = null): SqlStatement | null {
  if (state.status === 'none') return null;
  const l = state.license;
  return {
    name: 'licensing.project-license',
    text: `INSERT INTO licenses_view (license_id, serial, sku, trial, expires_at, status, granted_at, revoked_at,
                                warned_for, expiry_recorded_for, version, account_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (license_id) DO UPDATE SET serial = EXCLUDED.serial, expires_at = EXCLUDED.expires_at,
       status = EXCLUDED.status, revoked_at = EXCLUDED.revoked_at, warned_for = EXCLUDED.warned_for,
       expiry_recorded_for = EXCLUDED.expiry_recorded_for, version = EXCLUDED.version,
       account_id = COALESCE(EXCLUDED.account_id, licenses_view.account_id)
     WHERE licenses_view.version < EXCLUDED.version`,
    values: [
      l.licenseId,
      l.serial,
      l.sku,
      l.trial,
      l.expiresAt,
      l.status,
      l.grantedAt,
      l.revokedAt,
      state.warnedFor,
      state.expiryRecordedFor,
      version,
      accountId,
    ],
  };
}

/** A licenses_view row as the queries that return licenses select it. */
export interface LicenseRow {
  license_id: string;
  serial: string;
  sku: string;
  trial: boolean;
  expires_at: Date | null;
  status: 'active' | 'revoked';
  granted_at: Date;
  revoked_at: Date | null;
}

/** The license a licenses_view row holds, as its events carry it. */
export function licenseFromRow(r: LicenseRow): LicenseStateV1 {
  return {
    licenseId: r.license_id,
    serial: r.serial,
    sku: r.sku,
    trial: r.trial,
    expiresAt: r.expires_at?.toISOString() ?? null,
    status: r.status,
    grantedAt: r.granted_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  };
}

/** The licenses on a product, as licenses_view has them (every status), oldest first. */
export async function licensesOfProduct(tx: Tx, serial: string): Promise<LicenseStateV1[]> {
  const rows: LicenseRow[] = await tx.query(
    `SELECT license_id, serial, sku, trial, expires_at, status, granted_at, revoked_at
     FROM licenses_view WHERE serial = $1 ORDER BY granted_at, license_id`,
    [serial],
  );
  return rows.map(licenseFromRow);
}

/** The ids of the licenses recorded as active on a product (whether or not past their expiry). */
export async function activeLicenseIdsOf(tx: Tx, serial: string): Promise<string[]> {
  const rows: { license_id: string }[] = await tx.query(
    `SELECT license_id FROM licenses_view WHERE serial = $1 AND status = 'active' ORDER BY granted_at, license_id`,
    [serial],
  );
  return rows.map((r) => r.license_id);
}
