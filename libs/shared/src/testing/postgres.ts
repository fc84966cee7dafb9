import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresSettings } from '../config/service-config.js';
import type { MigrationClass } from '../database/migrations.js';
import { createDataSource, ensureDatabaseAndSchema, pgClientConfig } from '../database/postgres.js';
import {
  AddRelayStreamSequence1765100000000,
  AddRelayStreamEvent1768000000000,
  AnnounceCommitsAfterCommit1767000000000,
  CreateEventStore1764000000000,
} from '../event-store/event-store.migration.js';
import { EventStore } from '../event-store/event-store.js';

/** The database all integration and end-to-end tests share; each test file works in its own schema. */
export const TEST_DATABASE = 'ha_test';

/**
 * A label as a fragment of a lower-case identifier (a-z, 0-9, _). Kept short on purpose: the event
 * store's NOTIFY channel is `<schema>_events`, and PostgreSQL rejects channel names of 64 bytes or more.
 */
function labelPart(label: string, max: number): string {
  const part = label
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, max);
  return part || 'x';
}

/**
 * Settings for a fresh, unique schema `t_<label>_<random8>` in the test database on 127.0.0.1:5432 (user
 * postgres). Nothing is created yet: call ensureDatabaseAndSchema (or use createTestSchema).
 */
export function testPostgresSettings(label: string): PostgresSettings {
  return {
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    password: undefined,
    database: TEST_DATABASE,
    schema: `t_${labelPart(label, 40)}_${randomBytes(4).toString('hex')}`,
  };
}

/** testPostgresSettings, with the database and schema created. */
export async function createTestSchema(label: string): Promise<PostgresSettings> {
  const settings = testPostgresSettings(label);
  await ensureDatabaseAndSchema(settings);
  return settings;
}

/** Drops the settings' schema and everything in it. */
export async function dropSchema(settings: PostgresSettings): Promise<void> {
  const client = new pg.Client({ ...pgClientConfig(settings), options: undefined });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(settings.schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** An event store on its own migrated schema, for integration tests. */
export interface TestEventStore {
  readonly settings: PostgresSettings;
  readonly dataSource: DataSource;
  readonly store: EventStore;
  /** Closes the data source and drops the schema. */
  dispose(): Promise<void>;
}

/** The event store's own migrations, run first whatever `extraMigrations` a test store also lists. */
const EVENT_STORE_MIGRATIONS: readonly MigrationClass[] = [
  CreateEventStore1764000000000,
  AddRelayStreamSequence1765100000000,
  AnnounceCommitsAfterCommit1767000000000,
  AddRelayStreamEvent1768000000000,
];

/**
 * Creates a unique schema (or the one `settings` name), runs the event store's migration (and
 * `extraMigrations`, e.g. an app's read-model tables) and returns the store over it.
 */
export async function createTestEventStore(
  labelOrSettings: string | PostgresSettings,
  extraMigrations: readonly MigrationClass[] = [],
): Promise<TestEventStore> {
  const settings = typeof labelOrSettings === 'string' ? testPostgresSettings(labelOrSettings) : labelOrSettings;
  await ensureDatabaseAndSchema(settings);
  const dataSource = createDataSource(settings, [
    ...EVENT_STORE_MIGRATIONS,
    ...extraMigrations.filter((m) => !EVENT_STORE_MIGRATIONS.includes(m)),
  ]);
  try {
    await dataSource.initialize();
    await dataSource.runMigrations();
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropSchema(settings);
    throw error;
  }
  return {
    settings,
    dataSource,
    store: new EventStore(dataSource),
    async dispose() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await dropSchema(settings);
    },
  };
}
