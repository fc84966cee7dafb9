import {
  queryPrepared,
  type EffectiveLicenseSetV1,
  type EventEnvelope,
  type LicenseStateV1,
  type StatefulSyncStatusV1,
  type StreamPosition,
  type Tx,
} from '#shared';
import type { PairFacts, ProductFacts } from '../../domain/effective-licenses/effective-licenses.js';
import {
  namedSerials,
  projectionOf,
  type ProjectionState,
  type Succession,
  type Versioned,
} from '../../domain/effective-licenses/projection.js';

/**
 * Loads from and saves to PostgreSQL the part of the projection a batch of events can touch. The rules
 * (newest version wins, who holds a replaced unit's licenses, what is affected, what the effective set is) are
 * the pure functions of domain/effective-licenses; this file only moves their state in and out of tables.
 */

interface PairRow {
  pair_id: string;
  primary_serial: string;
  secondary_serial: string;
  status: PairFacts['status'];
  associated_at: Date;
  version: number;
  event_id: string;
}

async function pairsInvolving(tx: Tx, serials: readonly string[]): Promise<PairRow[]> {
  if (serials.length === 0) return [];
  return queryPrepared(
    tx,
    'sync-agent.pairs-involving',
    `SELECT pair_id, primary_serial, secondary_serial, status, associated_at, version, event_id FROM pairs
      WHERE primary_serial = ANY($1::text[]) OR secondary_serial = ANY($1::text[])`,
    [serials],
  );
}

/** `serials` and every unit a recorded replacement passes their licenses to (`forward`) or took them from, transitively. */
async function replacementClosure(tx: Tx, serials: readonly string[], direction: 'forward' | 'backward'): Promise<string[]> {
  const [from, to] = direction === 'forward' ? ['failed_serial', 'successor_serial'] : ['successor_serial', 'failed_serial'];
  const rows: { serial: string }[] = await queryPrepared(
    tx,
    `sync-agent.replacement-closure-${direction}`,
    `WITH RECURSIVE reached(serial) AS (
       SELECT unnest($1::text[])
       UNION
       SELECT r.${to} FROM replacements r JOIN reached ON r.${from} = reached.serial
     )
     SELECT serial FROM reached`,
    [serials],
  );
  return rows.map((r) => r.serial);
}

function withMembers(serials: Iterable<string>, pairs: readonly PairRow[]): Set<string> {
  const all = new Set(serials);
  for (const p of pairs) all.add(p.primary_serial).add(p.secondary_serial);
  return all;
}

/**
 * Everything needed to compute the effective sets of `serials` and of every product paired with them, and to
 * judge events about the licenses `licenseIds`: the serials those licenses are stored on, the units replacements
 * pass their licenses to, two hops through pairs (a serial's pairs, then its peers' pairs), the failed units
 * whose licenses any of them holds, every pair of all those (a later association ends a replacement), and their
 * products, licenses and replacements.
 */
export async function loadWorkingSet(
  tx: Tx,
  serials: readonly string[],
  licenseIds: readonly string[] = [],
): Promise<ProjectionState> {
  const stored: { serial: string }[] =
    licenseIds.length === 0
      ? []
      : await queryPrepared(
          tx,
          'sync-agent.serials-of-licenses',
          'SELECT DISTINCT serial FROM licenses WHERE license_id = ANY($1::uuid[])',
          [licenseIds],
        );
  const named = await replacementClosure(tx, [...new Set([...serials, ...stored.map((r) => r.serial)])], 'forward');
  const around = withMembers(named, await pairsInvolving(tx, named));
  const reach = withMembers(around, await pairsInvolving(tx, [...around]));
  const list = await replacementClosure(tx, [...reach], 'backward');
  return loadFacts(tx, list, licenseIds, await pairsInvolving(tx, list), 'held too');
}

/**
 * Only what the newest-version rule needs to judge events that name `serials` and `licenseIds`: those products,
 * the pairs they are members of, those licenses (not every license of the serials) and the replacements of those
 * serials. Enough to fold the events and save the facts, not to compute an effective set: the rebuild's load,
 * which therefore costs what the batch names rather than what the serials have accumulated.
 */
export async function loadNamedFacts(
  tx: Tx,
  serials: readonly string[],
  licenseIds: readonly string[],
): Promise<ProjectionState> {
  return loadFacts(tx, serials, licenseIds, await pairsInvolving(tx, serials), 'named only');
}

/** The products and replacements of `serials`, the given pairs, and the licenses `licenseIds` (and, 'held too', every license stored on `serials`). */
async function loadFacts(
  tx: Tx,
  serials: readonly string[],
  licenseIds: readonly string[],
  pairs: readonly PairRow[],
  licensesToLoad: 'held too' | 'named only',
): Promise<ProjectionState> {
  const products: {
    serial: string;
    model: string;
    firmware_version: string;
    account_id: string;
    version: number;
    event_id: string;
  }[] = await queryPrepared(
    tx,
    'sync-agent.load-products',
    'SELECT serial, model, firmware_version, account_id, version, event_id FROM products WHERE serial = ANY($1::text[])',
    [serials],
  );
  const licenses: { license_id: string; facts: LicenseStateV1; version: number; event_id: string }[] =
    licensesToLoad === 'held too'
      ? await queryPrepared(
          tx,
          'sync-agent.load-licenses-held',
          `SELECT license_id, facts, version, event_id FROM licenses
            WHERE serial = ANY($1::text[]) OR license_id = ANY($2::uuid[])`,
          [serials, licenseIds],
        )
      : licenseIds.length === 0
        ? []
        : await queryPrepared(
            tx,
            'sync-agent.load-licenses-named',
            'SELECT license_id, facts, version, event_id FROM licenses WHERE license_id = ANY($1::uuid[])',
            [licenseIds],
          );
  const replacements: {
    failed_serial: string;
    successor_serial: string;
    pair_id: string;
    replaced_pair_id: string;
    since: Date;
    event_id: string;
  }[] = await queryPrepared(
    tx,
    'sync-agent.load-replacements',
    `SELECT failed_serial, successor_serial, pair_id, replaced_pair_id, since, event_id FROM replacements
      WHERE failed_serial = ANY($1::text[]) ORDER BY failed_serial, since, pair_id`,
    [serials],
  );
  const successors = new Map<string, Succession[]>();
  for (const r of replacements) {
    successors.set(r.failed_serial, [
      ...(successors.get(r.failed_serial) ?? []),
      {
        failedSerial: r.failed_serial,
        successorSerial: r.successor_serial,
        pairId: r.pair_id,
        replacedPairId: r.replaced_pair_id,
        since: r.since.toISOString(),
        eventId: r.event_id,
      },
    ]);
  }
  return projectionOf({
    products: new Map(
      products.map((r) => [
        r.serial,
        {
          version: r.version,
          eventId: r.event_id,
          facts: { serial: r.serial, model: r.model, firmwareVersion: r.firmware_version, accountId: r.account_id },
        },
      ]),
    ),
    pairs: new Map(
      pairs.map((r) => [
        r.pair_id,
        {
          version: r.version,
          eventId: r.event_id,
          facts: {
            pairId: r.pair_id,
            primarySerial: r.primary_serial,
            secondarySerial: r.secondary_serial,
            status: r.status,
            associatedAt: r.associated_at.toISOString(),
          },
        },
      ]),
    ),
    licenses: new Map(licenses.map((r) => [r.license_id, { version: r.version, eventId: r.event_id, facts: r.facts }])),
    successors,
  });
}

/** Writes the entities whose version changed since `before` (the guard keeps a newer row if one exists), and new replacements. */
export async function saveChangedFacts(tx: Tx, before: ProjectionState, after: ProjectionState): Promise<void> {
  const changed = <F>(a: ReadonlyMap<string, Versioned<F>>, b: ReadonlyMap<string, Versioned<F>>) =>
    [...b.entries()].filter(([id, v]) => a.get(id)?.version !== v.version).map(([, v]) => v);

  const products = changed<ProductFacts>(before.products, after.products);
  if (products.length > 0) {
    await queryPrepared(
      tx,
      'sync-agent.save-products',
      `INSERT INTO products (serial, model, firmware_version, account_id, version, event_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[])
       ON CONFLICT (serial) DO UPDATE SET model = EXCLUDED.model, firmware_version = EXCLUDED.firmware_version,
         account_id = EXCLUDED.account_id, version = EXCLUDED.version, event_id = EXCLUDED.event_id
       WHERE products.version < EXCLUDED.version`,
      [
        products.map((p) => p.facts.serial),
        products.map((p) => p.facts.model),
        products.map((p) => p.facts.firmwareVersion),
        products.map((p) => p.facts.accountId),
        products.map((p) => p.version),
        products.map((p) => p.eventId),
      ],
    );
  }
  const pairs = changed<PairFacts>(before.pairs, after.pairs);
  if (pairs.length > 0) {
    await queryPrepared(
      tx,
      'sync-agent.save-pairs',
      `INSERT INTO pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version, event_id)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::uuid[])
       ON CONFLICT (pair_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version, event_id = EXCLUDED.event_id
       WHERE pairs.version < EXCLUDED.version`,
      [
        pairs.map((p) => p.facts.pairId),
        pairs.map((p) => p.facts.primarySerial),
        pairs.map((p) => p.facts.secondarySerial),
        pairs.map((p) => p.facts.status),
        pairs.map((p) => p.facts.associatedAt),
        pairs.map((p) => p.version),
        pairs.map((p) => p.eventId),
      ],
    );
  }
  const licenses = changed<LicenseStateV1>(before.licenses, after.licenses);
  if (licenses.length > 0) {
    await queryPrepared(
      tx,
      'sync-agent.save-licenses',
      `INSERT INTO licenses (license_id, serial, facts, version, event_id)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS l(license_id uuid, serial text, facts jsonb, version int, event_id uuid)
       ON CONFLICT (license_id) DO UPDATE SET serial = EXCLUDED.serial, facts = EXCLUDED.facts,
         version = EXCLUDED.version, event_id = EXCLUDED.event_id
       WHERE licenses.version < EXCLUDED.version`,
      [
        JSON.stringify(
          licenses.map((l) => ({
            license_id: l.facts.licenseId,
            serial: l.facts.serial,
            facts: l.facts,
            version: l.version,
            event_id: l.eventId,
          })),
        ),
      ],
    );
  }
  const known = new Set([...before.successors.values()].flat().map((s) => `${s.failedSerial}/${s.pairId}`));
  const successions = [...after.successors.values()].flat().filter((s) => !known.has(`${s.failedSerial}/${s.pairId}`));
  if (successions.length > 0) {
    await queryPrepared(
      tx,
      'sync-agent.save-replacements',
      `INSERT INTO replacements (failed_serial, successor_serial, pair_id, replaced_pair_id, since, event_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::uuid[])
       ON CONFLICT (failed_serial, pair_id) DO NOTHING`,
      [
        successions.map((s) => s.failedSerial),
        successions.map((s) => s.successorSerial),
        successions.map((s) => s.pairId),
        successions.map((s) => s.replacedPairId),
        successions.map((s) => s.since),
        successions.map((s) => s.eventId),
      ],
    );
  }
}

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

/** The effective sets last published, with their stream versions. */
export async function loadSnapshots(
  tx: Tx,
  serials: readonly string[],
): Promise<Map<string, { set: EffectiveLicenseSetV1; version: number }>> {
  const rows: { serial: string; set: EffectiveLicenseSetV1; version: number }[] = await queryPrepared(
    tx,
    'sync-agent.load-snapshots',
    'SELECT serial, set, version FROM effective_sets WHERE serial = ANY($1::text[])',
    [serials],
  );
  return new Map(rows.map((r) => [r.serial, { set: r.set, version: r.version }]));
}

/** Stores the effective sets just published, with their stream versions, in one statement. */
export async function saveSnapshots(
  tx: Tx,
  snapshots: readonly { readonly set: EffectiveLicenseSetV1; readonly version: number }[],
): Promise<void> {
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

/** The stateful-sync status last published for a pair, and the version of its `stateful-sync-<pairId>` stream. */
export interface PublishedStatefulSync {
  readonly status: StatefulSyncStatusV1;
  readonly version: number;
}

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
