import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestEventStore, type TestEventStore } from '../testing/index.js';
import { OUTBOX_DATA_SQL, OUTBOX_ROUND_SQL } from './outbox-relay.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** Every node of a plan, depth first. */
function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

const EVENTS = 30_000;

/**
 * What a relay round reads from the events table: the few index entries after its checkpoint, however large the
 * store, and even when the table has no statistics yet (a store that grew faster than autovacuum analyses it,
 * a restored one): the round runs once per commit under load and once a second when idle.
 */
describe("the relay round's read of the outbox", () => {
  let fixture: TestEventStore;
  let newest: { transaction_id: string; global_position: string };

  beforeAll(async () => {
    fixture = await createTestEventStore('outbox-relay-plan');
    const { dataSource } = fixture;
    await dataSource.query('ALTER TABLE events SET (autovacuum_enabled = false)');
    for (let t = 0; t < EVENTS / 1_000; t++) {
      await dataSource.query(
        `INSERT INTO events (event_id, stream_id, stream_version, event_type, schema_version, data, metadata, occurred_at)
         SELECT gen_random_uuid(), 'product-' || $1 || '-' || g, 1, 'ProductRegistered', 1, '{}', '{}', now()
           FROM generate_series(1, 1000) g`,
        [t],
      );
    }
    [newest] = await dataSource.query(
      'SELECT transaction_id::text, global_position::text FROM events ORDER BY events.global_position DESC LIMIT 1',
    );
  });

  afterAll(() => fixture.dispose());

  /**
   * The plan of one of the relay's prepared statements (`text`, with parameter types `types`) once the relay has run
   * it a few times with `args`, as it does every round.
   */
  async function preparedPlan(types: string, text: string, args: string): Promise<PlanNode> {
    const runner = fixture.dataSource.createQueryRunner();
    try {
      // The relay's own connection (pgClientConfig) keeps PostgreSQL's default plan cache mode.
      await runner.query('SET plan_cache_mode = auto');
      await runner.query(`PREPARE statement(${types}) AS ${text}`);
      for (let i = 0; i < 10; i++) await runner.query(`EXECUTE statement(${args})`);
      const [{ 'QUERY PLAN': plan }] = await runner.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE statement(${args})`);
      await runner.query('DEALLOCATE statement');
      return plan[0].Plan as PlanNode;
    } finally {
      await runner.release();
    }
  }

  const planFrom = (checkpoint: { transaction_id: string; global_position: string }) =>
    preparedPlan('xid8, bigint, int', OUTBOX_ROUND_SQL, `'${checkpoint.transaction_id}', ${checkpoint.global_position}, 1000`);

  it.each([
    ['nothing after the checkpoint (every round of an idle or caught-up relay)', () => newest, 50],
    ['a full batch after it (a relay catching up)', () => ({ transaction_id: '0', global_position: '0' }), 200],
  ] as const)('with %s it scans no table and reads at most a few buffers', async (_, checkpoint, maxBuffers) => {
    const plan = await planFrom(checkpoint());
    const nodes = nodesOf(plan);
    expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])).toEqual([]);
    const buffers = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
    expect(buffers).toBeLessThanOrEqual(maxBuffers);
  });

  it('reads the data it does not hold by primary key: no table scanned, a few buffers per event', async () => {
    const positions = Array.from({ length: 100 }, (_, i) => Number(newest.global_position) - i * 250);
    const plan = await preparedPlan('bigint[]', OUTBOX_DATA_SQL, `'{${positions.join(',')}}'`);
    expect(
      nodesOf(plan)
        .filter((n) => n['Node Type'] === 'Seq Scan')
        .map((n) => n['Relation Name']),
    ).toEqual([]);
    const buffers = (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
    expect(buffers).toBeLessThanOrEqual(positions.length * 5);
  });
});
