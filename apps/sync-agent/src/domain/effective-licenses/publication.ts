import type { EffectiveLicenseSetV1, StatefulSyncStatusV1 } from '#shared/contracts';

/** The sync agent's stream of a product's EffectiveLicensesChanged. */
export const effectiveLicensesStreamId = (serial: string): string => `effective-licenses-${serial}`;
/** The sync agent's stream of a pair's StatefulSyncChanged. */
export const statefulSyncStreamId = (pairId: string): string => `stateful-sync-${pairId}`;

/** The effective set last published for a product, and the version of its `effective-licenses-<serial>` stream. */
export interface PublishedSet {
  readonly set: EffectiveLicenseSetV1;
  readonly version: number;
}

/** The stateful-sync status last published for a pair, and the version of its `stateful-sync-<pairId>` stream. */
export interface PublishedStatefulSync {
  readonly status: StatefulSyncStatusV1;
  readonly version: number;
}
