import { queryPrepared, type LicenseStateV1, type Tx } from '#shared';
import type { PairFacts, ProductFacts } from '../domain/effective-licenses/effective-licenses.js';
import { projectionOf, type ProjectionState, type Succession, type Versioned } from '../domain/effective-licenses/projection.js';

/**
 * The sync agent's facts (products, pairs, licenses, replacements), written by the projector and read by every read
 * model: loads from and saves to PostgreSQL the part of the projection a batch of events or a query can touch. The
 * rules (newest version wins, who holds a replaced unit's licenses, what is affected, what the effective set is) are
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

interface ProductRow {
  serial: string;
  model: string;
  firmware_version: string;
  account_id: string;
  version: number;
  event_id: string;
}

interface LicenseRow {
  license_id: string;
  facts: LicenseStateV1;
  version: number;
  event_id: string;
}

/** A recorded replacement: `successor_serial` holds the licenses `failed_serial` held in the replaced pair. */
interface ReplacementRow {
  failed_serial: string;
  successor_serial: string;
  pair_id: string;
  replaced_pair_id: string;
  since: Date;
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
  const products = await queryPrepared<ProductRow>(
    tx,
    'sync-agent.load-products',
    'SELECT serial, model, firmware_version, account_id, version, event_id FROM products WHERE serial = ANY($1::text[])',
    [serials],
  );
  const licenses: LicenseRow[] =
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
  const replacements = await queryPrepared<ReplacementRow>(
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

  await writeRows(
    tx,
    'sync-agent.save-products',
    `INSERT INTO products (serial, model, firmware_version, account_id, version, event_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[])
     ON CONFLICT (serial) DO UPDATE SET model = EXCLUDED.model, firmware_version = EXCLUDED.firmware_version,
       account_id = EXCLUDED.account_id, version = EXCLUDED.version, event_id = EXCLUDED.event_id
     WHERE products.version < EXCLUDED.version`,
    changed<ProductFacts>(before.products, after.products),
    [
      (p) => p.facts.serial,
      (p) => p.facts.model,
      (p) => p.facts.firmwareVersion,
      (p) => p.facts.accountId,
      (p) => p.version,
      (p) => p.eventId,
    ],
  );
  await writeRows(
    tx,
    'sync-agent.save-pairs',
    `INSERT INTO pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version, event_id)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::uuid[])
     ON CONFLICT (pair_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version, event_id = EXCLUDED.event_id
     WHERE pairs.version < EXCLUDED.version`,
    changed<PairFacts>(before.pairs, after.pairs),
    [
      (p) => p.facts.pairId,
      (p) => p.facts.primarySerial,
      (p) => p.facts.secondarySerial,
      (p) => p.facts.status,
      (p) => p.facts.associatedAt,
      (p) => p.version,
      (p) => p.eventId,
    ],
  );
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
  await writeRows(
    tx,
    'sync-agent.save-replacements',
    `INSERT INTO replacements (failed_serial, successor_serial, pair_id, replaced_pair_id, since, event_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::uuid[])
     ON CONFLICT (failed_serial, pair_id) DO NOTHING`,
    [...after.successors.values()].flat().filter((s) => !known.has(`${s.failedSerial}/${s.pairId}`)),
    [(s) => s.failedSerial, (s) => s.successorSerial, (s) => s.pairId, (s) => s.replacedPairId, (s) => s.since, (s) => s.eventId],
  );
}

/** Runs the named `unnest` write `text` for `rows`, with one array parameter per column (none when there are no rows). */
async function writeRows<Row>(
  tx: Tx,
  name: string,
  text: string,
  rows: readonly Row[],
  columns: readonly ((row: Row) => unknown)[],
): Promise<void> {
  if (rows.length === 0) return;
  await queryPrepared(
    tx,
    name,
    text,
    columns.map((column) => rows.map(column)),
  );
}
