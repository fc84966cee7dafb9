/**
 * A check that raw, naive and ours projected the same facts from the same backlog: per schema, the number
 * of products, pairs and licenses and the sum of their versions. Equal fingerprints mean each consumer kept
 * the newest version of every entity (a throughput figure of a consumer that dropped events is worthless).
 */
import pg from 'pg';

export interface Fingerprint {
  readonly products: string;
  readonly pairs: string;
  readonly licenses: string;
}

export async function factsFingerprint(
  db: pg.Client,
  schemas: Record<string, string | undefined>,
): Promise<{ fingerprints: Record<string, Fingerprint>; consistent: boolean }> {
  const fingerprints: Record<string, Fingerprint> = {};
  for (const [label, schema] of Object.entries(schemas)) {
    if (!schema) continue;
    const s = pg.escapeIdentifier(schema);
    const { rows } = await db.query<{ products: string; pairs: string; licenses: string }>(
      `SELECT (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM ${s}.products) AS products,
              (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM ${s}.pairs) AS pairs,
              (SELECT count(*) || '/' || coalesce(sum(version), 0) FROM ${s}.licenses) AS licenses`,
    );
    fingerprints[label] = rows[0]!;
  }
  const distinct = new Set(Object.values(fingerprints).map((f) => JSON.stringify(f)));
  return { fingerprints, consistent: distinct.size <= 1 };
}
