import { z } from 'zod';
import { Serial } from './pairing.events.js';

const Instant = z.iso.datetime({ offset: true });

/**
 * A license as it stands after a change. `expiresAt` null means perpetual. `status` is what was recorded
 * (active or revoked); whether an active license has expired is computed from `expiresAt` against a clock.
 */
export const LicenseStateV1 = z.object({
  licenseId: z.uuid(),
  serial: Serial,
  sku: z.string().min(1),
  trial: z.boolean(),
  expiresAt: Instant.nullable(),
  status: z.enum(['active', 'revoked']),
  grantedAt: Instant,
  revokedAt: Instant.nullable(),
});
export type LicenseStateV1 = z.infer<typeof LicenseStateV1>;

/**
 * A change of a license, with its full state after the change:
 * - `granted`, `renewed`, `revoked`: from the API;
 * - `expired`: recorded by the expiry scheduler at the expiry instant (expiry itself is always computed
 *   from `expiresAt`; this records that it happened, once per expiry);
 * - `transferred`: the license moved to another unit (`transferredFrom` names the unit it left), e.g. when
 *   a failed Primary is replaced.
 */
export const EntitlementChangedV1 = z.object({
  change: z.enum(['granted', 'renewed', 'revoked', 'expired', 'transferred']),
  license: LicenseStateV1,
  transferredFrom: Serial.optional(),
  changedAt: Instant,
});
export type EntitlementChangedV1 = z.infer<typeof EntitlementChangedV1>;

/** Announced once per license and expiry when the license enters the expiry warning window. */
export const EntitlementExpiringSoonV1 = z.object({
  license: LicenseStateV1,
  windowDays: z.number().int().positive(),
  warnedAt: Instant,
});
export type EntitlementExpiringSoonV1 = z.infer<typeof EntitlementExpiringSoonV1>;

/** The licensing events as domain events (type + data). */
export type LicensingEvent =
  | { type: 'EntitlementChanged'; data: EntitlementChangedV1 }
  | { type: 'EntitlementExpiringSoon'; data: EntitlementExpiringSoonV1 };
