/**
 * What the projector last published (the `effective_sets` snapshots and `stateful_sync_published`), with the
 * versions of their streams: what decidePublication compares a batch's outcome with. The rebuild leaves these
 * tables as they are: they record what subscribers were told.
 */
import { queryPrepared, type EffectiveLicenseSetV1, type StatefulSyncStatusV1, type Tx } from '#shared';
import type { PairFacts } from '../../domain/effective-licenses/effective-licenses.js';
import type { PublishedSet, PublishedStatefulSync } from '../../domain/effective-licenses/publication.js';

/** The effective sets last published, with their stream versions. */
export async function loadSnapshots(tx: Tx, serials: readonly string[]): Promise<Map<string, PublishedSet>> {
  const rows: { serial: string; set: EffectiveLicenseSetV1; version: number }[] = await queryPrepared(
    tx,
    'sync-agent.load-snapshots',
    'SELECT serial, set, version FROM effective_sets WHERE serial = ANY($1::text[])',
    [serials],
  );
  return new Map(rows.map((r) => [r.serial, { set: r.set, version: r.version }]));
}

/** Stores the effective sets just published, with their stream versions, in one statement. */
export async function saveSnapshots(tx: Tx, snapshots: readonly PublishedSet[]): Promise<void> {
  if (snapshots.length === 0) return;
  await queryPrepared(
    tx,
    'sync-agent.save-snapshots',
    `INSERT INTO effective_sets (serial, set, version, updated_at)
     SELECT serial, set, version, now() FROM jsonb_to_recordset($1::jsonb) AS s(serial text, set jsonb, version int)
     ON CONFLICT (serial) DO UPDATE SET set = EXCLUDED.set, version = EXCLUDED.version, updated_at = now()`,
    [JSON.stringify(snapshots.map((s) => ({ serial: s.set.serial, set: s.set, version: s.version })))],
  );
}

/** The stateful-sync status last published for each of `pairIds` that has one. */
export async function loadPublishedStatefulSync(tx: Tx, pairIds: readonly string[]): Promise<Map<string, PublishedStatefulSync>> {
  if (pairIds.length === 0) return new Map();
  const rows: { pair_id: string; enabled: boolean; reason: StatefulSyncStatusV1['reason']; version: number }[] =
    await queryPrepared(
      tx,
      'sync-agent.load-stateful-sync',
      'SELECT pair_id, enabled, reason, version FROM stateful_sync_published WHERE pair_id = ANY($1::uuid[])',
      [pairIds],
    );
  return new Map(rows.map((r) => [r.pair_id, { status: { enabled: r.enabled, reason: r.reason }, version: r.version }]));
}

/** Stores the stateful-sync status just published for a pair, with its stream version. */
export async function savePublishedStatefulSync(
  tx: Tx,
  pair: Pick<PairFacts, 'pairId' | 'primarySerial' | 'secondarySerial'>,
  status: StatefulSyncStatusV1,
  version: number,
): Promise<void> {
  await queryPrepared(
    tx,
    'sync-agent.save-stateful-sync',
    `INSERT INTO stateful_sync_published (pair_id, primary_serial, secondary_serial, enabled, reason, version, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (pair_id) DO UPDATE SET enabled = EXCLUDED.enabled, reason = EXCLUDED.reason, version = EXCLUDED.version,
       updated_at = now()`,
    [pair.pairId, pair.primarySerial, pair.secondarySerial, status.enabled, status.reason, version],
  );
}
