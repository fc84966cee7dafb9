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

export const EntitlementChangedV1 = z.object({
  change: z.enum(['granted', 'renewed', 'revoked']),
  license: LicenseStateV1,
  changedAt: Instant,
});
export type EntitlementChangedV1 = z.infer<typeof EntitlementChangedV1>;

/** The licensing events as domain events (type + data). */
export type LicensingEvent = { type: 'EntitlementChanged'; data: EntitlementChangedV1 };
