/**
 * Compares the live projection with the rebuilt one, row by row, before the switch-over. Run while the live
 * projector is paused (its lock held) and the rebuild has consumed everything the streams held, so the rebuilt
 * tables have seen every event the live ones have, and possibly a few more (the catch-up: events the live
 * agent had not applied yet). A difference is explained only when it is such an event's doing.
 */
import pg from 'pg';
import type { RebuildSchemas, RebuiltTable, Sql } from './rebuild-tables.js';

/** How one table of facts differs. */
export interface TableComparison {
  readonly table: Exclude<RebuiltTable, 'inbox'>;
  readonly liveRows: number;
  readonly rebuiltRows: number;
  /** Rows that differ (or exist on one side only) because the rebuild applied an event the live agent had not yet. */
  readonly caughtUp: number;
  /** Every other difference. */
  readonly unexplained: number;
  /** The keys of a few unexplained differences, for the report. */
  readonly examples: readonly string[];
}

/** How the inboxes (the events each side consumed) differ. */
export interface InboxComparison {
  readonly liveEvents: number;
  readonly rebuiltEvents: number;
  /** Consumed by the rebuild only: events the live agent had not applied yet. */
  readonly caughtUp: number;
  /** Consumed by the live agent only: the streams no longer hold them (or never did). */
  readonly missing: number;
  /** Consumed by both with a different envelope. */
  readonly differing: number;
  readonly examples: readonly string[];
}

export interface ProjectionComparison {
  readonly inbox: InboxComparison;
  readonly tables: readonly TableComparison[];
}

/** How many differences the catch-up cannot explain; the switch-over happens only when this is 0. */
export function unexplainedDifferences(comparison: ProjectionComparison): number {
  return comparison.inbox.missing + comparison.inbox.differing + comparison.tables.reduce((sum, t) => sum + t.unexplained, 0);
}

/** The comparison as the lines the rebuild prints. */
export function formatComparison(comparison: ProjectionComparison): string[] {
  const { inbox } = comparison;
  const lines = [
    `  ${'table'.padEnd(13)}${'live'.padStart(10)}${'rebuilt'.padStart(10)}${'caught up'.padStart(11)}${'unexplained'.padStart(13)}`,
    `  ${'inbox'.padEnd(13)}${String(inbox.liveEvents).padStart(10)}${String(inbox.rebuiltEvents).padStart(10)}${String(inbox.caughtUp).padStart(11)}${String(inbox.missing + inbox.differing).padStart(13)}`,
  ];
  for (const t of comparison.tables) {
    lines.push(
      `  ${t.table.padEnd(13)}${String(t.liveRows).padStart(10)}${String(t.rebuiltRows).padStart(10)}${String(t.caughtUp).padStart(11)}${String(t.unexplained).padStart(13)}`,
    );
  }
  if (inbox.missing > 0)
    lines.push(
      `  inbox: ${inbox.missing} event(s) the live agent consumed are not in the streams, e.g. ${inbox.examples.join(', ')}`,
    );
  if (inbox.differing > 0)
    lines.push(`  inbox: ${inbox.differing} event(s) differ between the two, e.g. ${inbox.examples.join(', ')}`);
  for (const t of comparison.tables) {
    if (t.unexplained > 0) lines.push(`  ${t.table}: ${t.unexplained} row(s) differ, e.g. ${t.examples.join(', ')}`);
  }
  return lines;
}

/** The key columns of each table of facts, and whether its rows carry the version of the aggregate. */
const FACT_TABLES: readonly { table: TableComparison['table']; keys: readonly string[]; versioned: boolean }[] = [
  { table: 'products', keys: ['serial'], versioned: true },
  { table: 'pairs', keys: ['pair_id'], versioned: true },
  { table: 'licenses', keys: ['license_id'], versioned: true },
  { table: 'replacements', keys: ['failed_serial', 'pair_id'], versioned: false },
];

const EXAMPLES = 3;

/** Compares every rebuilt table of `schemas.live` with its copy in `schemas.shadow`. */
export async function compareProjections(sql: Sql, schemas: RebuildSchemas): Promise<ProjectionComparison> {
  const live = (t: string) => `${pg.escapeIdentifier(schemas.live)}.${pg.escapeIdentifier(t)}`;
  const rebuilt = (t: string) => `${pg.escapeIdentifier(schemas.shadow)}.${pg.escapeIdentifier(t)}`;

  const { rows: inboxRows } = await sql.query<{
    live: string;
    rebuilt: string;
    caught_up: string;
    missing: string;
    differing: string;
    examples: string[] | null;
  }>(
    `SELECT count(l.event_id) AS live, count(n.event_id) AS rebuilt,
            count(*) FILTER (WHERE l.event_id IS NULL) AS caught_up,
            count(*) FILTER (WHERE n.event_id IS NULL) AS missing,
            count(*) FILTER (WHERE l.envelope IS DISTINCT FROM n.envelope AND l.event_id IS NOT NULL AND n.event_id IS NOT NULL) AS differing,
            (array_agg(l.event_id::text ORDER BY l.event_id) FILTER (WHERE n.event_id IS NULL OR l.envelope IS DISTINCT FROM n.envelope AND l.event_id IS NOT NULL))[1:${EXAMPLES}] AS examples
       FROM ${live('inbox')} l FULL JOIN ${rebuilt('inbox')} n ON n.event_id = l.event_id`,
  );
  const i = inboxRows[0]!;
  const inbox: InboxComparison = {
    liveEvents: Number(i.live),
    rebuiltEvents: Number(i.rebuilt),
    caughtUp: Number(i.caught_up),
    missing: Number(i.missing),
    differing: Number(i.differing),
    examples: i.examples ?? [],
  };

  const tables: TableComparison[] = [];
  for (const { table, keys, versioned } of FACT_TABLES) {
    const on = keys.map((k) => `n.${k} = l.${k}`).join(' AND ');
    const key = keys.map((k) => `coalesce(l.${k}, n.${k})::text`).join(` || '/' || `);
    // A difference is the catch-up's doing when the rebuilt row came from an event the live agent has not
    // consumed yet and replaces an older row or none.
    const explained = `(n.${keys[0]} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${live('inbox')} li WHERE li.event_id = n.event_id)
                        AND (l.${keys[0]} IS NULL${versioned ? ' OR l.version < n.version' : ''}))`;
    const { rows } = await sql.query<{
      live: string;
      rebuilt: string;
      caught_up: string;
      unexplained: string;
      examples: string[] | null;
    }>(
      `SELECT count(l.${keys[0]}) AS live, count(n.${keys[0]}) AS rebuilt,
              count(*) FILTER (WHERE l IS DISTINCT FROM n AND ${explained}) AS caught_up,
              count(*) FILTER (WHERE l IS DISTINCT FROM n AND NOT ${explained}) AS unexplained,
              (array_agg(${key} ORDER BY ${key}) FILTER (WHERE l IS DISTINCT FROM n AND NOT ${explained}))[1:${EXAMPLES}] AS examples
         FROM ${live(table)} l FULL JOIN ${rebuilt(table)} n ON ${on}`,
    );
    const r = rows[0]!;
    tables.push({
      table,
      liveRows: Number(r.live),
      rebuiltRows: Number(r.rebuilt),
      caughtUp: Number(r.caught_up),
      unexplained: Number(r.unexplained),
      examples: r.examples ?? [],
    });
  }
  return { inbox, tables };
}
