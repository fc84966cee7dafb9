/**
 * What the projector last published, with the versions of their streams: what decidePublication compares a batch's
 * outcome with. An effective set is read from its newest EffectiveLicensesChanged in the outbox, which already holds
 * it (a second copy per publication cost a row write a set); a pair's stateful synchronization from
 * `stateful_sync_published`. The rebuild leaves both as they are: they record what subscribers were told.
 */
import { queryPrepared, type EffectiveLicenseSetV1, type StatefulSyncStatusV1, type Tx } from '#shared';
import type { PairFacts } from '../../domain/effective-licenses/effective-licenses.js';
import {
  effectiveLicensesStreamId,
  type PublishedSet,
  type PublishedStatefulSync,
} from '../../domain/effective-licenses/publication.js';

/** The effective sets last published for `serials`, with their stream versions: each stream's newest event. */
export async function loadPublishedSets(tx: Tx, serials: readonly string[]): Promise<Map<string, PublishedSet>> {
  const rows: { set: EffectiveLicenseSetV1; version: number }[] = await queryPrepared(
    tx,
    'sync-agent.load-published-sets',
    `SELECT newest.data->'set' AS set, newest.stream_version AS version
       FROM unnest($1::text[]) AS published(stream_id)
      CROSS JOIN LATERAL (SELECT data, stream_version FROM events
                           WHERE events.stream_id = published.stream_id
                           ORDER BY stream_version DESC LIMIT 1) newest`,
    [serials.map(effectiveLicensesStreamId)],
  );
  return new Map(rows.map((r) => [r.set.serial, { set: r.set, version: r.version }]));
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
