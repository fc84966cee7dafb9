/**
 * The tables a rebuild recomputes, the shadow schema it builds them in and the one-transaction switch-over.
 * Every statement names its schema explicitly: the rebuild works across three schemas at once.
 */
import pg from 'pg';
import { projectorLockKey } from '../read-models/effective-licenses/effective-licenses.projector.js';

/**
 * What the rebuild recomputes from the streams: the inbox (which "as of" queries read) and the facts. It does
 * NOT touch the sync agent's outbox (`events`, which the history query reads and which holds each published set),
 * the relay's checkpoint, or `stateful_sync_published`: they record what subscribers were told, so after the
 * switch-over the live projector compares its new sets with them as before.
 */
export const REBUILT_TABLES = ['inbox', 'products', 'pairs', 'licenses', 'replacements'] as const;
export type RebuiltTable = (typeof REBUILT_TABLES)[number];

/** Anything that runs SQL on one connection (a pg Client or a client checked out of a pool). */
export type Sql = Pick<pg.ClientBase, 'query'>;

/** The three schemas of a rebuild: the one the sync agent serves from, the new tables, and the old tables afterwards. */
export interface RebuildSchemas {
  readonly live: string;
  /** Always the same name for a live schema, so a rebuild that died is cleaned up by the next one. */
  readonly shadow: string;
  /** Dated: `<live>_old_<yyyymmdd_hhmmss>` (UTC). */
  readonly archive: string;
}

/** The schema names for rebuilding `live` at `startedAt`; each fits PostgreSQL's 63-byte identifiers. */
export function rebuildSchemas(live: string, startedAt: Date): RebuildSchemas {
  const base = live.slice(0, 40);
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  return { live, shadow: `${base}_rebuild`, archive: `${base}_old_${stamp}` };
}

const id = (name: string): string => pg.escapeIdentifier(name);
const qualified = (schema: string, table: string): string => `${id(schema)}.${id(table)}`;

/** The live schema's rebuilt tables that are missing (the sync agent has not migrated this schema yet). */
export async function missingLiveTables(sql: Sql, live: string): Promise<string[]> {
  const { rows } = await sql.query<{ table: string }>(
    `SELECT t AS table FROM unnest($2::text[]) AS t WHERE to_regclass(quote_ident($1) || '.' || quote_ident(t)) IS NULL`,
    [live, [...REBUILT_TABLES]],
  );
  return rows.map((r) => r.table);
}

interface IndexRow {
  schema: string;
  table: string;
  index: string;
  /** The definition without the index's and the table's names, e.g. `UNIQUE USING btree (serial)`. */
  shape: string;
}

async function indexesOf(sql: Sql, schemas: readonly string[]): Promise<IndexRow[]> {
  const { rows } = await sql.query<IndexRow>(
    `SELECT ns.nspname AS schema, c.relname AS table, i.relname AS index,
            regexp_replace(pg_get_indexdef(i.oid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '\\1') AS shape
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class c ON c.oid = x.indrelid
       JOIN pg_namespace ns ON ns.oid = c.relnamespace
      WHERE ns.nspname = ANY($1::text[]) AND c.relname = ANY($2::text[])
      ORDER BY ns.nspname, c.relname, i.relname`,
    [schemas, [...REBUILT_TABLES]],
  );
  return rows;
}

/**
 * (Re)creates the shadow schema with empty copies of the live tables: same columns, defaults, constraints and
 * indexes (`LIKE … INCLUDING ALL`, so whatever later migrations did is copied too), and the indexes renamed to
 * the live names, so that after the switch-over the schema is exactly what the migrations made.
 */
export async function createShadowTables(sql: Sql, schemas: RebuildSchemas): Promise<void> {
  await sql.query(`DROP SCHEMA IF EXISTS ${id(schemas.shadow)} CASCADE`);
  await sql.query(`CREATE SCHEMA ${id(schemas.shadow)}`);
  for (const table of REBUILT_TABLES) {
    await sql.query(`CREATE TABLE ${qualified(schemas.shadow, table)} (LIKE ${qualified(schemas.live, table)} INCLUDING ALL)`);
  }
  const indexes = await indexesOf(sql, [schemas.live, schemas.shadow]);
  const unmatched = indexes.filter((i) => i.schema === schemas.shadow);
  for (const live of indexes.filter((i) => i.schema === schemas.live)) {
    const at = unmatched.findIndex((s) => s.table === live.table && s.shape === live.shape);
    if (at < 0) throw new Error(`the shadow copy of ${live.table} lacks index ${live.index} (${live.shape})`);
    const [shadow] = unmatched.splice(at, 1);
    if (shadow!.index !== live.index) {
      await sql.query(`ALTER INDEX ${qualified(schemas.shadow, shadow!.index)} RENAME TO ${id(live.index)}`);
    }
  }
  if (unmatched.length > 0)
    throw new Error(`unexpected indexes in the shadow tables: ${unmatched.map((i) => i.index).join(', ')}`);
}

export { projectorLockKey };

/** Takes, in the caller's open transaction, the lock every live projector batch takes first; held until commit. */
export async function holdProjectorLock(sql: Sql, live: string): Promise<void> {
  await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [projectorLockKey(live)]);
}

const LOCK_NOT_AVAILABLE = '55P03';

/**
 * Locks the live and shadow tables, then moves the live tables to the archive schema and the shadow tables
 * into the live schema; runs inside the caller's transaction, so readers see the old tables or the new ones,
 * never neither. Each attempt waits at most `lockWaitMs` for readers to finish (new readers queue behind it
 * meanwhile) and then lets go of everything it took, so a reader that already holds one table and asks for
 * another never deadlocks with the switch-over; attempts repeat until `deadline`.
 */
export async function swapTables(
  sql: Sql,
  schemas: RebuildSchemas,
  { lockWaitMs = 200, deadline = Date.now() + 30_000 }: { lockWaitMs?: number; deadline?: number } = {},
): Promise<{ lockAttempts: number }> {
  const all = REBUILT_TABLES.flatMap((t) => [qualified(schemas.live, t), qualified(schemas.shadow, t)]).join(', ');
  await sql.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockWaitMs))}`);
  for (let attempt = 1; ; attempt++) {
    await sql.query('SAVEPOINT rebuild_swap_locks');
    try {
      await sql.query(`LOCK TABLE ${all} IN ACCESS EXCLUSIVE MODE`);
      await sql.query('RELEASE SAVEPOINT rebuild_swap_locks');
      await sql.query(`CREATE SCHEMA ${id(schemas.archive)}`);
      for (const table of REBUILT_TABLES) {
        await sql.query(`ALTER TABLE ${qualified(schemas.live, table)} SET SCHEMA ${id(schemas.archive)}`);
      }
      for (const table of REBUILT_TABLES) {
        await sql.query(`ALTER TABLE ${qualified(schemas.shadow, table)} SET SCHEMA ${id(schemas.live)}`);
      }
      return { lockAttempts: attempt };
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE || Date.now() >= deadline) throw error;
      await sql.query('ROLLBACK TO SAVEPOINT rebuild_swap_locks');
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}
