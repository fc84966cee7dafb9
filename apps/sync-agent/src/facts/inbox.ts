/**
 * The inbox: every consumed event once, with the envelope, where it was consumed from, when it occurred and the
 * serials it concerns. The projector records a batch's events in it in the batch's transaction (so a redelivery
 * changes nothing); "as of" queries fold what it kept.
 */
import { queryPrepared, type EffectiveLicenseSetV1, type EventEnvelope, type StreamPosition, type Tx } from '#shared';
import { collectEventsConcerning, effectiveSetAsOf, type ConsumedEvent } from '../domain/effective-licenses/as-of.js';
import { namedSerials } from '../domain/effective-licenses/projection.js';

/** An event to record in the inbox, with the position it was consumed from (none when applied from elsewhere). */
export interface InboxEntry {
  readonly event: EventEnvelope;
  readonly source?: StreamPosition;
}

/**
 * Records each event id once, with the event itself, where it was consumed from, when it occurred and the serials
 * it concerns (by default the ones it names) for "as of" queries. Returns, for every event id that was already
 * recorded, the position it was first consumed from (null if unknown); the ids not in it are new.
 */
export async function recordInInbox(
  tx: Tx,
  entries: readonly InboxEntry[],
  serialsOf: (event: EventEnvelope) => readonly string[] = namedSerials,
): Promise<Map<string, StreamPosition | null>> {
  if (entries.length === 0) return new Map();
  const inserted: { event_id: string }[] = await queryPrepared(
    tx,
    'sync-agent.record-inbox',
    `INSERT INTO inbox (event_id, event_type, stream_id, stream_version, occurred_at, serials, envelope, source_stream, source_seq)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(event_id uuid, event_type text, stream_id text,
       stream_version int, occurred_at timestamptz, serials text[], envelope jsonb, source_stream text, source_seq bigint)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [
      JSON.stringify(
        entries.map(({ event: e, source }) => ({
          event_id: e.eventId,
          event_type: e.type,
          stream_id: e.streamId,
          stream_version: e.streamVersion,
          occurred_at: e.occurredAt,
          serials: serialsOf(e),
          envelope: e,
          source_stream: source?.stream ?? null,
          source_seq: source?.seq ?? null,
        })),
      ),
    ],
  );
  const fresh = new Set(inserted.map((r) => r.event_id));
  const known = entries.map((e) => e.event.eventId).filter((id) => !fresh.has(id));
  if (known.length === 0) return new Map();
  // Rare (redeliveries and replays only), so a second statement here costs the common case nothing.
  const rows: { event_id: string; source_stream: string | null; source_seq: string | null }[] = await queryPrepared(
    tx,
    'sync-agent.inbox-sources',
    'SELECT event_id, source_stream, source_seq FROM inbox WHERE event_id = ANY($1::uuid[])',
    [known],
  );
  return new Map(
    rows.map((r) => [
      r.event_id,
      r.source_stream === null || r.source_seq === null ? null : { stream: r.source_stream, seq: Number(r.source_seq) },
    ]),
  );
}

/** The consumed events concerning `serials` that occurred at or before `at`, except those in `seen`. */
export async function loadConsumedEvents(
  tx: Tx,
  serials: readonly string[],
  at: Date,
  seen: ReadonlySet<string>,
): Promise<ConsumedEvent[]> {
  const rows: { serials: string[]; envelope: EventEnvelope }[] = await tx.query(
    `SELECT serials, envelope FROM inbox
      WHERE serials && $1::text[] AND occurred_at <= $2 AND NOT (event_id = ANY($3::uuid[]))
      ORDER BY occurred_at, received_at, event_id`,
    [serials, at, [...seen]],
  );
  return rows.map((r) => ({ serials: r.serials, envelope: r.envelope }));
}

/** The effective set of `serial` at the past instant `at`, or null when the product was not registered then. */
export async function effectiveSetAt(
  tx: Tx,
  serial: string,
  at: Date,
  options: { readonly warningWindowDays?: number } = {},
): Promise<EffectiveLicenseSetV1 | null> {
  const events = await collectEventsConcerning(serial, (serials, seen) => loadConsumedEvents(tx, serials, at, seen));
  return effectiveSetAsOf(events, serial, at, options);
}
