import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateEventStore1764000000000 } from '#shared';
import { createTestEventStore, type TestEventStore } from '#shared/testing';
import { SYNC_AGENT_MIGRATIONS } from '../infrastructure/migrations.js';
import { loadWorkingSet } from './facts-store.js';

const PAIRS = 10_000;
const LICENSES_PER_PRODUCT = 3;
const serial = (n: number): string => n.toString(16).toUpperCase().padStart(12, '0');

/**
 * The working set is one call of `working_set` (every projector batch and every read of a set makes it): it must read
 * what the serials reach through the indexes, however many facts the agent holds, also before the tables have
 * statistics (a store that grew faster than autovacuum analyses it) and after.
 */
describe("the working set's read of the facts", () => {
  let db: TestEventStore;

  beforeAll(async () => {
    db = await createTestEventStore(
      'sync_working_set_plan',
      SYNC_AGENT_MIGRATIONS.filter((m) => m !== CreateEventStore1764000000000),
    );
    const { dataSource } = db;
    for (const table of ['products', 'pairs', 'licenses', 'replacements'])
      await dataSource.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const serialOf = (n: string) => `lpad(upper(to_hex(${n})), 12, '0')`;
    await dataSource.query(
      `INSERT INTO products (serial, model, firmware_version, account_id, version, event_id)
       SELECT ${serialOf('g')}, 'NSA 2700', '7.0.1', 'acct-' || (g % 50), 1, gen_random_uuid()
         FROM generate_series(0, $1::int - 1) g`,
      [2 * PAIRS],
    );
    await dataSource.query(
      `INSERT INTO pairs (pair_id, primary_serial, secondary_serial, status, associated_at, version, event_id)
       SELECT gen_random_uuid(), ${serialOf('2 * g')}, ${serialOf('2 * g + 1')}, 'associated', now(), 1, gen_random_uuid()
         FROM generate_series(0, $1::int - 1) g`,
      [PAIRS],
    );
    await dataSource.query(
      `INSERT INTO licenses (license_id, serial, facts, version, event_id)
       SELECT gen_random_uuid(), ${serialOf('g / $2::int')}, '{}', 1, gen_random_uuid()
         FROM generate_series(0, $1::int * $2::int - 1) g`,
      [2 * PAIRS, LICENSES_PER_PRODUCT],
    );
    // Every tenth pair's Secondary replaced an earlier unit (a failed unit beyond the products above).
    await dataSource.query(
      `INSERT INTO replacements (failed_serial, successor_serial, pair_id, replaced_pair_id, since, event_id)
       SELECT 'F' || ${serialOf('g')}, ${serialOf('20 * g + 1')}, gen_random_uuid(), gen_random_uuid(), now(), gen_random_uuid()
         FROM generate_series(0, $1::int / 10 - 1) g`,
      [PAIRS],
    );
  }, 60_000);

  afterAll(() => db.dispose());

  /**
   * The buffers one call reads, the statements it runs inside included, and what it answers; after a first call on
   * the same connection (another serial), as the agent's connections make it, since a session's first call also reads
   * the catalog to plan. Read with the index scans turned off, the same call reads some 1,900 buffers.
   */
  async function readOf(serials: string[]): Promise<{ buffers: number; answer: unknown }> {
    const runner = db.dataSource.createQueryRunner();
    try {
      await runner.query('SELECT working_set($1::text[], $2::uuid[])', [[serial(2 * PAIRS - 2)], []]);
      const [{ 'QUERY PLAN': plan }] = await runner.query(
        'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT working_set($1::text[], $2::uuid[])',
        [serials, []],
      );
      const top = plan[0].Plan as { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
      const [{ facts }] = await runner.query('SELECT working_set($1::text[], $2::uuid[]) AS facts', [serials, []]);
      return { buffers: (top['Shared Hit Blocks'] ?? 0) + (top['Shared Read Blocks'] ?? 0), answer: facts };
    } finally {
      await runner.release();
    }
  }

  it.each([
    ['without statistics', false],
    ['with statistics', true],
  ] as const)('%s, reads a few buffers for a Primary with a replaced Secondary, and answers its facts', async (_, analyzed) => {
    if (analyzed) await db.dataSource.query('ANALYZE products, pairs, licenses, replacements');
    const { buffers, answer } = await readOf([serial(0)]);
    expect(buffers).toBeLessThanOrEqual(150);
    expect(answer).toMatchObject({
      pairs: [expect.objectContaining({ primary_serial: serial(0), secondary_serial: serial(1) })],
      products: expect.arrayContaining([
        expect.objectContaining({ serial: serial(0) }),
        expect.objectContaining({ serial: serial(1) }),
      ]),
      replacements: [expect.objectContaining({ failed_serial: `F${serial(0)}`, successor_serial: serial(1) })],
    });
    expect((answer as { licenses: unknown[] }).licenses).toHaveLength(2 * LICENSES_PER_PRODUCT);
  });

  it('is what the projector loads: the same facts through loadWorkingSet', async () => {
    const state = await loadWorkingSet(db.dataSource.manager, [serial(0)]);
    expect([...state.products.keys()].sort()).toEqual([serial(0), serial(1)]);
    expect(state.licenses.size).toBe(2 * LICENSES_PER_PRODUCT);
    expect(state.successors.get(`F${serial(0)}`)?.map((s) => s.successorSerial)).toEqual([serial(1)]);
    expect([...state.pairs.values()][0]?.facts.associatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});
