import pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import type { PostgresSettings } from '../config/service-config.js';
import type { MigrationClass } from './migrations.js';

/** A database transaction (TypeORM's entity manager bound to one connection). */
export type Tx = Pick<EntityManager, 'query'>;

/**
 * Runs one of the hot paths' statements as a named prepared statement of the connection: PostgreSQL parses it
 * once per connection rather than on every call, and plans it as the pool's StatementPlanning says. Inside a transaction `tx` is TypeORM's entity
 * manager, whose query runner hands out its pg connection; elsewhere (no transaction) it runs as a plain query.
 * A statement text must always go with the same `name` (pg refuses a name reused for another text).
 */
export async function queryPrepared<Row>(tx: Tx, name: string, text: string, values: unknown[]): Promise<Row[]> {
  const runner = (tx as Partial<EntityManager>).queryRunner;
  if (!runner || runner.isReleased) return tx.query<Row[]>(text, values);
  const connection = (await runner.connect()) as pg.ClientBase;
  const result = await connection.query<Row & pg.QueryResultRow>({ name, text, values });
  return result.rows;
}

/** Options for the `pg` driver: the service's database with the service's schema first on the search path. */
export function pgClientConfig(settings: PostgresSettings, database = settings.database): pg.ClientConfig {
  return {
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database,
    options: `-c search_path=${settings.schema}`,
    application_name: 'ha-license-sync',
  };
}

/**
 * Creates the service's database if it is missing (from the `postgres` maintenance database) and its
 * schema. Safe to race: several services or test files may do it at once.
 */
export async function ensureDatabaseAndSchema(settings: PostgresSettings): Promise<void> {
  const admin = new pg.Client({ ...pgClientConfig(settings, 'postgres'), options: undefined });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [settings.database]);
    if (rowCount === 0) {
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(settings.database)}`).catch((error: { code?: string }) => {
        // 42P04 duplicate_database, 23505 unique_violation: another process created it first.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ ...pgClientConfig(settings), options: undefined });
  await db.connect();
  try {
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(settings.schema)}`).catch((error: { code?: string }) => {
      if (error.code !== '23505' && error.code !== '42P06') throw error;
    });
  } finally {
    await db.end();
  }
}

/**
 * How the pool's connections plan named statements (queryPrepared).
 * - 'for each execution' (`plan_cache_mode=force_custom_plan`): planned for each execution's values, parsed once.
 *   PostgreSQL otherwise switches a prepared statement to a generic plan after five executions and keeps it; chosen
 *   while a table was small (a fresh rebuild's shadow tables, a new deployment) it went on scanning the table as it
 *   grew, which halved the rebuild's rate at 1 M events (decisions §47; the runs are in docs/performance.md). For
 *   statements that read tables whose best plan depends on their size: the sync agent's.
 * - 'cached' (PostgreSQL's default): the generic plan is reused once it costs no more than the custom ones. For
 *   services whose named statements are the event store's, appends and key lookups whose generic plan is the index
 *   on any table (event-store.plan.int.spec.ts): licensing's grant then costs no planning (0.11 ms of backend CPU
 *   a grant with custom plans; decisions §48).
 */
export type StatementPlanning = 'for each execution' | 'cached';

/** A TypeORM data source on the service's schema; migrations are classes, never `synchronize`. */
export function createDataSource(
  settings: PostgresSettings,
  migrations: readonly MigrationClass[],
  planning: StatementPlanning = 'for each execution',
): DataSource {
  return new DataSource({
    type: 'postgres',
    host: settings.host,
    port: settings.port,
    username: settings.user,
    password: settings.password,
    database: settings.database,
    schema: settings.schema,
    synchronize: false,
    migrations: [...migrations],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    extra: {
      options: `-c search_path=${settings.schema}${planning === 'for each execution' ? ' -c plan_cache_mode=force_custom_plan' : ''}`,
      max: 10,
      application_name: 'ha-license-sync',
    },
  });
}

/** The SQLSTATE of a driver error, whether TypeORM wrapped it or not. */
export function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The constraint a driver error names, if any. */
export function violatedConstraint(error: unknown): string | undefined {
  const e = error as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const name = e?.driverError?.constraint ?? e?.constraint;
  return typeof name === 'string' ? name : undefined;
}

export const UNIQUE_VIOLATION = '23505';

const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03']);
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when an error says nothing about the data: the database is down or restarting, the connection
 * broke, or a concurrent transaction must be retried. Such work should be retried as is.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const state = sqlState(error);
  if (state && (state.startsWith('08') || TRANSIENT_SQLSTATES.has(state) || TRANSIENT_NODE_CODES.has(state))) return true;
  const message = error instanceof Error ? error.message : String(error);
  // TypeORM releases a query runner whose connection broke; its next query throws QueryRunnerProviderAlreadyReleasedError
  // or QueryRunnerAlreadyReleasedError (seen by the chaos harness when PostgreSQL restarts mid-transaction).
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|query runner (was )?already released/i.test(
    message,
  );
}
