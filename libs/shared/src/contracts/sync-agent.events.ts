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

/** A consumed event (pairing's or licensing's) that caused a change. */
export const EventCauseV1 = z
  .object({ eventId: z.uuid(), type: z.string() })
  .meta({ description: 'A consumed event (of pairing or licensing) that caused the change.' });
export type EventCauseV1 = z.infer<typeof EventCauseV1>;

/** The top-level fields of an effective set that an EffectiveLicensesChanged can name in `changedFields`. */
export const EFFECTIVE_SET_FIELDS = ['role', 'peerSerial', 'pairId', 'licenses', 'statefulSync'] as const;

/**
 * Published whenever a product's effective set differs, in any field, from the last one published for it, because
 * of events the sync agent consumed (stream `effective-licenses-<serial>`; version 1 is the product's first set).
 * `added`/`removed`/`changed` are the `licenses` delta only: SKUs that appeared, disappeared, or whose expiry, trial
 * flag, expiring-soon flag or sources changed. They are all empty exactly when `licenses` did not change, i.e. only
 * the role, peer, pair or stateful sync did; `changedFields` names every field that changed. `set` is the whole set
 * after the change. Several consumed events applied together (a batch) give one event: `causes` lists them all, in
 * the order they were applied; `cause` is the last of them.
 */
export const EffectiveLicensesChangedV1 = z.object({
  serial: Serial,
  added: z.array(z.string()).meta({ description: 'SKUs now in the set that were not (every SKU of a first set).' }),
  removed: z.array(z.string()).meta({ description: 'SKUs no longer in the set.' }),
  changed: z
    .array(z.string())
    .meta({ description: 'SKUs still in the set whose expiry, trial flag, expiring-soon flag or sources changed.' }),
  set: EffectiveLicenseSetV1,
  cause: EventCauseV1.meta({ description: 'The last of `causes`.' }),
  causes: z
    .array(EventCauseV1)
    .min(1)
    .optional()
    .meta({
      description:
        'Every consumed event that led to this change, in the order applied (one unless several were applied together); ' +
        'the last is `cause`. Added within v1: absent from events of producers that predate it.',
    }),
  changedFields: z
    .array(z.enum(EFFECTIVE_SET_FIELDS))
    .min(1)
    .optional()
    .meta({
      description:
        'The fields of `set` that differ from the previously published set (every field for a first set). ' +
        '`licenses` is listed exactly when `added`, `removed` or `changed` is not empty. Added within v1.',
    }),
  computedAt: Instant,
});
export type EffectiveLicensesChangedV1 = z.infer<typeof EffectiveLicensesChangedV1>;

/**
 * Published for a pair's stateful synchronization (stream `stateful-sync-<pairId>`). Version 1 of the stream is the
 * pair's initial state, published when the sync agent first sees the pair, whether enabled or not; every later one
 * is a change (enabled, or reason, differs from the last published). A pair that ends (dissociated or replaced)
 * publishes `NOT_PAIRED` only if it was enabled. `causes` as in EffectiveLicensesChanged.
 */
export const StatefulSyncChangedV1 = z.object({
  pairId: z.uuid(),
  primarySerial: Serial,
  secondarySerial: Serial,
  enabled: z.boolean(),
  reason: z.enum(STATEFUL_SYNC_REASONS).nullable(),
  cause: EventCauseV1.meta({ description: 'The last of `causes`.' }),
  causes: z.array(EventCauseV1).min(1).optional().meta({
    description:
      'Every consumed event, of either unit, that led to this state, in the order applied; the last is `cause`. Added within v1.',
  }),
  changedAt: Instant,
});
export type StatefulSyncChangedV1 = z.infer<typeof StatefulSyncChangedV1>;

export type SyncAgentEvent =
  | { type: 'EffectiveLicensesChanged'; data: EffectiveLicensesChangedV1 }
  | { type: 'StatefulSyncChanged'; data: StatefulSyncChangedV1 };
