import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestEventStore, type TestEventStore } from '../testing/index.js';
import { NEWEST_EVENT_SQL, READ_STREAM_SQL } from './event-store.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/** The tables a plan reads whole. */
function tablesScanned(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' ? [node['Relation Name'] ?? '?'] : [];
  return [...own, ...(node.Plans ?? []).flatMap(tablesScanned)];
}

/**
 * Licensing and pairing keep PostgreSQL's plan cache ('cached' StatementPlanning): a named statement of theirs may
 * run on a generic plan made when the events table was empty (a new deployment) and kept as the table grows. Their
 * named reads are the event store's; each generic plan must reach its rows through an index, whatever the table held
 * when it was made (the appends have no plan to choose: the unique indexes check each row).
 */
describe("the event store's named reads under generic plans", () => {
  let fixture: TestEventStore;

  beforeAll(async () => {
    fixture = await createTestEventStore('event-store-plan');
    await fixture.dataSource.query('ALTER TABLE events SET (autovacuum_enabled = false)');
  });

  afterAll(() => fixture.dispose());

  /** The generic plan of `text` as prepared now, with `parameters` for its execution. */
  async function genericPlan(text: string, parameters: string): Promise<PlanNode> {
    const runner = fixture.dataSource.createQueryRunner();
    try {
      await runner.query('SET plan_cache_mode = force_generic_plan');
      await runner.query(`PREPARE statement AS ${text}`);
      const [{ 'QUERY PLAN': plan }] = await runner.query(`EXPLAIN (FORMAT JSON) EXECUTE statement${parameters}`);
      await runner.query('DEALLOCATE statement');
      return plan[0].Plan as PlanNode;
    } finally {
      await runner.release();
    }
  }

  const statements = [
    ['event-store.read-stream', READ_STREAM_SQL, "('license-x')"],
    ['event-store.newest-event', NEWEST_EVENT_SQL, ''],
  ] as const;

  it.each(statements)('%s on an empty table without statistics reads through an index', async (_, text, parameters) => {
    expect(tablesScanned(await genericPlan(text, parameters))).toEqual([]);
  });

  it.each(statements)('%s on 30,000 events without statistics reads through an index', async (_, text, parameters) => {
    const [{ count }] = await fixture.dataSource.query('SELECT count(*)::int AS count FROM events');
    if (count === 0)
      await fixture.dataSource.query(
        `INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
         SELECT gen_random_uuid(), 'license-' || (g / 3), g % 3 + 1, 'LicenseGranted', 1, '{}', '{}', now()
           FROM generate_series(0, 29999) g`,
      );
    expect(tablesScanned(await genericPlan(text, parameters))).toEqual([]);
  });
});
