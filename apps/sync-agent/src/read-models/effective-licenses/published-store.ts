/**
 * What the projector last published, with the versions of their streams: what decidePublication compares a batch's
 * outcome with. An effective set is read from its newest EffectiveLicensesChanged in the outbox, which already holds
 * it (a second copy per publication cost a row write a set); a pair's stateful synchronization from
 * `stateful_sync_published`. The rebuild leaves both as they are: they record what subscribers were told.
 */
import { BoundedMap, queryPrepared, type EffectiveLicenseSetV1, type StatefulSyncStatusV1, type Tx } from '#shared';
import type { PairFacts } from '../../domain/effective-licenses/effective-licenses.js';
import {
  effectiveLicensesStreamId,
  type PublishedSet,
  type PublishedStatefulSync,
} from '../../domain/effective-licenses/publication.js';

/** How many products' published sets a PublishedSetCache keeps (a few kilobytes each). */
export const PUBLISHED_SET_CACHE_ENTRIES = 10_000;

/**
 * The sets this process last published or read, by serial, with their stream versions. A stream's event at a version
 * never changes, so a cached set is the published one exactly while its stream is still at the cached version:
 * loadPublishedSets asks the outbox for each stream's version and reads the set only where it differs (another
 * instance published since, or the set is not cached). Filled only with what committed; the least recently used go
 * first.
 */
export class PublishedSetCache {
  private readonly sets: BoundedMap<string, PublishedSet>;

  constructor(capacity = PUBLISHED_SET_CACHE_ENTRIES) {
    this.sets = new BoundedMap(capacity);
  }

  /** The cached set of `serial`, if any (it counts as used). */
  get(serial: string): PublishedSet | undefined {
    const published = this.sets.get(serial);
    if (published) this.sets.set(serial, published);
    return published;
  }

  /** Keeps `published` as the set of `serial` unless a later version is kept already. */
  remember(serial: string, published: PublishedSet): void {
    const kept = this.sets.get(serial);
    if (!kept || kept.version < published.version) this.sets.set(serial, published);
  }
}

/**
 * The effective sets last published for `serials`, with their stream versions: each stream's newest event. A set
 * `cache` holds at the stream's version is taken from it: the outbox then only looks up the version (the set
 * document is neither read nor sent).
 */
export async function loadPublishedSets(
  tx: Tx,
  serials: readonly string[],
  cache?: PublishedSetCache,
): Promise<Map<string, PublishedSet>> {
  const cached = new Map<string, PublishedSet>();
  for (const serial of serials) {
    const published = cache?.get(serial);
    if (published) cached.set(serial, published);
  }
  const rows: { serial: string; set: EffectiveLicenseSetV1 | null; version: number }[] = await queryPrepared(
    tx,
    'sync-agent.load-published-sets',
    `SELECT published.serial, newest.stream_version AS version,
            CASE WHEN newest.stream_version IS NOT DISTINCT FROM published.cached_version THEN NULL
                 ELSE newest.data->'set' END AS set
       FROM unnest($1::text[], $2::text[], $3::int[]) AS published(serial, stream_id, cached_version)
      CROSS JOIN LATERAL (SELECT data, stream_version FROM events
                           WHERE events.stream_id = published.stream_id
                           ORDER BY stream_version DESC LIMIT 1) newest`,
    [serials, serials.map(effectiveLicensesStreamId), serials.map((serial) => cached.get(serial)?.version ?? null)],
  );
  return new Map(rows.map((r) => [r.serial, r.set === null ? cached.get(r.serial)! : { set: r.set, version: r.version }]));
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
