import { z } from 'zod';
import { Serial } from './pairing.events.js';

const Instant = z.iso.datetime({ offset: true });

/** Where an effective license comes from: the unit's own license, or its Primary's through the pair. */
export const LicenseSourceV1 = z.object({
  from: z.enum(['own', 'primary']),
  serial: Serial,
  licenseId: z.uuid(),
  expiresAt: Instant.nullable(),
  /** The events that put this source in the set: the license's latest event, and the pair's association. */
  eventIds: z.array(z.uuid()),
});
export type LicenseSourceV1 = z.infer<typeof LicenseSourceV1>;

/** One SKU in an effective set; `expiresAt` is the latest of its sources (null = perpetual). */
export const EffectiveLicenseV1 = z.object({
  sku: z.string(),
  category: z.string(),
  trial: z.boolean(),
  expiresAt: Instant.nullable(),
  /** True when `expiresAt` falls within the expiry warning window (default 30 days). */
  expiringSoon: z.boolean(),
  sources: z.array(LicenseSourceV1).min(1),
});
export type EffectiveLicenseV1 = z.infer<typeof EffectiveLicenseV1>;

export const STATEFUL_SYNC_REASONS = ['NOT_PAIRED', 'NOT_LICENSED', 'MODEL_UNSUPPORTED', 'FIRMWARE_TOO_OLD'] as const;
export const StatefulSyncStatusV1 = z.object({
  enabled: z.boolean(),
  reason: z.enum(STATEFUL_SYNC_REASONS).nullable(),
});
export type StatefulSyncStatusV1 = z.infer<typeof StatefulSyncStatusV1>;

/** A product's effective license set: what the unit may use right now. */
export const EffectiveLicenseSetV1 = z.object({
  serial: Serial,
  role: z.enum(['primary', 'secondary', 'standalone']),
  peerSerial: Serial.nullable(),
  pairId: z.uuid().nullable(),
  licenses: z.array(EffectiveLicenseV1),
  statefulSync: StatefulSyncStatusV1,
});
export type EffectiveLicenseSetV1 = z.infer<typeof EffectiveLicenseSetV1>;

/**
 * Published whenever a product's effective set changes because of an event the sync agent consumed.
 * `added`/`removed` list SKUs that appeared or disappeared; `changed` lists SKUs whose expiry, trial flag
 * or sources changed. `set` is the whole set after the change.
 */
export const EffectiveLicensesChangedV1 = z.object({
  serial: Serial,
  added: z.array(z.string()),
  removed: z.array(z.string()),
  changed: z.array(z.string()),
  set: EffectiveLicenseSetV1,
  cause: z.object({ eventId: z.uuid(), type: z.string() }),
  computedAt: Instant,
});
export type EffectiveLicensesChangedV1 = z.infer<typeof EffectiveLicensesChangedV1>;

/** Published for a pair when its stateful synchronization turns on or off. */
export const StatefulSyncChangedV1 = z.object({
  pairId: z.uuid(),
  primarySerial: Serial,
  secondarySerial: Serial,
  enabled: z.boolean(),
  reason: z.enum(STATEFUL_SYNC_REASONS).nullable(),
  cause: z.object({ eventId: z.uuid(), type: z.string() }),
  changedAt: Instant,
});
export type StatefulSyncChangedV1 = z.infer<typeof StatefulSyncChangedV1>;

export type SyncAgentEvent =
  | { type: 'EffectiveLicensesChanged'; data: EffectiveLicensesChangedV1 }
  | { type: 'StatefulSyncChanged'; data: StatefulSyncChangedV1 };
