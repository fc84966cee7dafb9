/**
 * The history of a product's effective set, read SYNCHRONOUSLY from what the projector has committed: the sync
 * agent's own events table (the EffectiveLicensesChanged of stream `effective-licenses-<serial>`). The set "as of"
 * an instant is folded from the inbox (facts/inbox.ts).
 */
import type { EffectiveLicensesChangedV1, Tx } from '#shared';
import { effectiveLicensesStreamId } from '../../domain/effective-licenses/publication.js';

/** One change of a product's effective set. */
export interface EffectiveLicensesHistoryItem {
  /** The version of stream `effective-licenses-<serial>` (1 = the first set). */
  readonly version: number;
  /** When the sync agent computed the change. */
  readonly at: string;
  /** The consumed event that caused it. */
  readonly cause: { readonly type: string; readonly eventId: string };
  /** Who made the change the set follows from (the API key id of the cause's request), or null. */
  readonly actor: string | null;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/** A page of a product's history, oldest first; `nextAfter` is the `after` of the next page, null on the last. */
export interface EffectiveLicensesHistoryPage {
  readonly serial: string;
  readonly items: readonly EffectiveLicensesHistoryItem[];
  readonly nextAfter: number | null;
}

/** The changes of `serial`'s effective set after version `after`, at most `limit` of them. */
export async function readHistoryPage(
  tx: Tx,
  serial: string,
  after: number,
  limit: number,
): Promise<EffectiveLicensesHistoryPage> {
  // The actor is the set's own event's, or for a set computed before actors were propagated, its cause's (in the inbox).
  const rows: { stream_version: number; data: EffectiveLicensesChangedV1; actor: string | null }[] = await tx.query(
    `SELECT e.stream_version, e.data,
            COALESCE(e.metadata->>'actor', (SELECT i.envelope->'metadata'->>'actor' FROM inbox i
                                             WHERE i.event_id = (e.data->'cause'->>'eventId')::uuid)) AS actor
       FROM events e
      WHERE e.stream_id = $1 AND e.event_type = 'EffectiveLicensesChanged' AND e.stream_version > $2
      ORDER BY e.stream_version
      LIMIT $3`,
    [effectiveLicensesStreamId(serial), after, limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    serial,
    items: page.map(({ stream_version, data, actor }) => ({
      version: stream_version,
      at: data.computedAt,
      cause: { type: data.cause.type, eventId: data.cause.eventId },
      actor,
      added: data.added,
      removed: data.removed,
      changed: data.changed,
    })),
    nextAfter: rows.length > limit ? (page.at(-1)?.stream_version ?? null) : null,
  };
}

/** Whether the sync agent has seen the registration of `serial`. */
export async function isKnownProduct(tx: Tx, serial: string): Promise<boolean> {
  const rows: unknown[] = await tx.query('SELECT 1 FROM products WHERE serial = $1', [serial]);
  return rows.length > 0;
}
