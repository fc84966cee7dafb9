import type { EffectiveLicenseSetV1, EventEnvelope, LicenseStateV1, Tx } from '#shared';
import type { PairFacts, ProductFacts } from '../../domain/effective-licenses/effective-licenses.js';
import type { ProjectionState, Versioned } from '../../domain/effective-licenses/projection.js';

/**
 * Loads from and saves to PostgreSQL the part of the projection a batch of events can touch. The rules
 * (newest version wins, what is affected, what the effective set is) are the pure functions of
 * domain/effective-licenses; this file only moves their state in and out of tables.
 */

interface PairRow {
  pair_id: string;
  primary_serial: string;
  secondary_serial: string;
  status: PairFacts['status'];
  associated_at: Date;
  version: number;
}

async function pairsInvolving(tx: Tx, serials: readonly string[]): Promise<PairRow[]> {
  if (serials.length === 0) return [];
  return tx.query(
    `SELECT pair_id, primary_serial, secondary_serial, status, associated_at, version FROM pairs
      WHERE primary_serial = ANY($1::text[]) OR secondary_serial = ANY($1::text[])`,
    [serials],
  );
}

/**
 * Everything needed to compute the effective sets of `serials` and of every product paired with them:
 * two hops through pairs (a serial's pairs, then its peers' pairs), then products and licenses.
 */
export async function loadWorkingSet(tx: Tx, serials: readonly string[]): Promise<ProjectionState> {
  const firstHop = await pairsInvolving(tx, serials);
  const around = new Set(serials);
  for (const p of firstHop) around.add(p.primary_serial).add(p.secondary_serial);
  const secondHop = await pairsInvolving(tx, [...around]);
  const all = new Set(around);
  for (const p of secondHop) all.add(p.primary_serial).add(p.secondary_serial);
  const list = [...all];

  const products: { serial: string; model: string; firmware_version: string; account_id: string; version: number }[] =
    await tx.query('SELECT serial, model, firmware_version, account_id, version FROM products WHERE serial = ANY($1::text[])', [
      list,
    ]);
  const licenses: { license_id: string; facts: LicenseStateV1; version: number }[] = await tx.query(
    'SELECT license_id, facts, version FROM licenses WHERE serial = ANY($1::text[])',
    [list],
  );
  return {
    products: new Map(
      products.map((r) => [
        r.serial,
        {
          version: r.version,
          facts: { serial: r.serial, model: r.model, firmwareVersion: r.firmware_version, accountId: r.account_id },
        },
      ]),
    ),
    pairs: new Map(
      secondHop.map((r) => [
        r.pair_id,
        {
          version: r.version,
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
    licenses: new Map(licenses.map((r) => [r.license_id, { version: r.version, facts: r.facts }])),
  };
}

/** Writes the entities whose version changed since `before` (the guard keeps a newer row if one exists). */
export async function saveChangedFacts(tx: Tx, before: ProjectionState, after: ProjectionState): Promise<void> {
  const changed = <F>(a: ReadonlyMap<string, Versioned<F>>, b: ReadonlyMap<string, Versioned<F>>) =>
    [...b.entries()].filter(([id, v]) => a.get(id)?.version !== v.version).map(([, v]) => v);

  const products = changed<ProductFacts>(before.products, after.products);
  if (products.length > 0) {
    await tx.query(
      `INSERT INTO products (serial, model, firmware_version, account_id, version)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
       ON CONFLICT (serial) DO UPDATE SET model = EXCLUDED.model, firmware_version = EXCLUDED.firmware_version,
         account_id = EXCLUDED.account_id, version = EXCLUDED.version
       WHERE products.version < EXCLUDED.version`,
      [
        products.map((p) => p.facts.serial),
        products.map((p) => p.facts.model),
        products.map((p) => p.facts.firmwareVersion),
        products.map((p) => p.facts.accountId),
        products.map((p) => p.version),
      ],
    );
  }
  const pairs = changed<PairFacts>(before.pairs, after.pairs);
  if (pairs.length > 0) {
    await tx.query(
      `INSERT INTO pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[])
       ON CONFLICT (pair_id) DO UPDATE SET status = EXCLUDED.status, version = EXCLUDED.version
       WHERE pairs.version < EXCLUDED.version`,
      [
        pairs.map((p) => p.facts.pairId),
        pairs.map((p) => p.facts.primarySerial),
        pairs.map((p) => p.facts.secondarySerial),
        pairs.map((p) => p.facts.status),
        pairs.map((p) => p.facts.associatedAt),
        pairs.map((p) => p.version),
      ],
    );
  }
  const licenses = changed<LicenseStateV1>(before.licenses, after.licenses);
  if (licenses.length > 0) {
    await tx.query(
      `INSERT INTO licenses (license_id, serial, facts, version)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::int[])
       ON CONFLICT (license_id) DO UPDATE SET facts = EXCLUDED.facts, version = EXCLUDED.version
       WHERE licenses.version < EXCLUDED.version`,
      [
        licenses.map((l) => l.facts.licenseId),
        licenses.map((l) => l.facts.serial),
        licenses.map((l) => JSON.stringify(l.facts)),
        licenses.map((l) => l.version),
      ],
    );
  }
}

/** Records each event id once; returns the ids that were new (the others are redeliveries). */
export async function recordInInbox(tx: Tx, events: readonly EventEnvelope[]): Promise<Set<string>> {
  const rows: { event_id: string }[] = await tx.query(
    `INSERT INTO inbox (event_id, event_type, stream_id, stream_version)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[])
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [events.map((e) => e.eventId), events.map((e) => e.type), events.map((e) => e.streamId), events.map((e) => e.streamVersion)],
  );
  return new Set(rows.map((r) => r.event_id));
}

/** The effective sets last published, with their stream versions. */
export async function loadSnapshots(
  tx: Tx,
  serials: readonly string[],
): Promise<Map<string, { set: EffectiveLicenseSetV1; version: number }>> {
  const rows: { serial: string; set: EffectiveLicenseSetV1; version: number }[] = await tx.query(
    'SELECT serial, set, version FROM effective_sets WHERE serial = ANY($1::text[])',
    [serials],
  );
  return new Map(rows.map((r) => [r.serial, { set: r.set, version: r.version }]));
}

export async function saveSnapshot(tx: Tx, set: EffectiveLicenseSetV1, version: number): Promise<void> {
  await tx.query(
    `INSERT INTO effective_sets (serial, set, version, updated_at) VALUES ($1, $2::jsonb, $3, now())
     ON CONFLICT (serial) DO UPDATE SET set = EXCLUDED.set, version = EXCLUDED.version, updated_at = now()`,
    [set.serial, JSON.stringify(set), version],
  );
}
