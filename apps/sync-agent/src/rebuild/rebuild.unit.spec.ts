import { describe, expect, it } from '@jest/globals';
import { formatComparison, unexplainedDifferences, type ProjectionComparison } from './compare-projections.js';
import { rebuildSchemas } from './rebuild-tables.js';

const AT = new Date('2026-11-25T12:34:56.789Z');

describe('the schemas of a rebuild', () => {
  it.each([
    ['public', { shadow: 'public_rebuild', archive: 'public_old_20261125_123456' }],
    ['ha_sync', { shadow: 'ha_sync_rebuild', archive: 'ha_sync_old_20261125_123456' }],
  ])('for %s: a fixed shadow name and an archive dated in UTC', (live, names) => {
    expect(rebuildSchemas(live, AT)).toEqual({ live, ...names });
  });

  it('keeps every name within PostgreSQL’s 63 bytes, whatever the live schema’s length', () => {
    const { shadow, archive } = rebuildSchemas('s'.repeat(63), AT);
    expect(shadow.length).toBeLessThanOrEqual(63);
    expect(archive.length).toBeLessThanOrEqual(63);
  });
});

const identical: ProjectionComparison = {
  inbox: { liveEvents: 10, rebuiltEvents: 12, caughtUp: 2, missing: 0, differing: 0, examples: [] },
  tables: [
    { table: 'products', liveRows: 4, rebuiltRows: 5, caughtUp: 1, unexplained: 0, examples: [] },
    { table: 'licenses', liveRows: 3, rebuiltRows: 3, caughtUp: 1, unexplained: 0, examples: [] },
  ],
};

describe('judging a comparison', () => {
  it('finds nothing unexplained when every difference is the catch-up’s', () => {
    expect(unexplainedDifferences(identical)).toBe(0);
  });

  it.each<[string, ProjectionComparison, number]>([
    ['an event only the live agent consumed', { ...identical, inbox: { ...identical.inbox, missing: 1, examples: ['e1'] } }, 1],
    [
      'an event consumed with another envelope',
      { ...identical, inbox: { ...identical.inbox, differing: 2, examples: ['e1'] } },
      2,
    ],
    [
      'a row of facts that differs',
      { ...identical, tables: [{ ...identical.tables[0]!, unexplained: 3, examples: ['SERIAL'] }, identical.tables[1]!] },
      3,
    ],
  ])('counts %s', (_, comparison, count) => {
    expect(unexplainedDifferences(comparison)).toBe(count);
  });

  it('prints a row per table and names examples of what differs', () => {
    const lines = formatComparison({
      ...identical,
      tables: [{ ...identical.tables[0]!, unexplained: 1, examples: ['0123456789AB'] }, identical.tables[1]!],
    });
    expect(lines[0]).toMatch(/table\s+live\s+rebuilt\s+caught up\s+unexplained/);
    expect(lines[1]).toMatch(/inbox\s+10\s+12\s+2\s+0/);
    expect(lines[2]).toMatch(/products\s+4\s+5\s+1\s+1/);
    expect(lines.at(-1)).toBe('  products: 1 row(s) differ, e.g. 0123456789AB');
  });
});
