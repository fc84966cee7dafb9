import { Inject, Injectable, Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { ServiceConfig } from '../config/service-config.js';
import { EventStore } from '../event-store/event-store.js';
import { postgresWaitMessage } from '../runtime/dependency-hints.js';
import { growingDelay, retry, worthReporting } from '../runtime/retry.js';
import { ServiceLifecycle, StartupPhase } from '../runtime/service-lifecycle.js';
import { SERVICE_CONFIG, SERVICE_LOG, type ServiceLog } from '../runtime/service.module.js';
import type { MigrationClass } from './migrations.js';
import { createDataSource, ensureDatabaseAndSchema, type StatementPlanning } from './postgres.js';

/** Nest injection token of the service's migrations and statement planning. */
const DATABASE_OPTIONS = Symbol('DatabaseOptions');

/** What a service's database is: its migrations, and how its named statements are planned (createDataSource). */
export interface DatabaseOptions {
  readonly migrations: readonly MigrationClass[];
  readonly planning?: StatementPlanning;
}

/**
 * The service's PostgreSQL database: created if missing, migrated, and kept connected. It starts first (a missing
 * PostgreSQL is named, with the command that starts it, on the first and every tenth attempt) and closes last.
 */
@Injectable()
export class Database {
  readonly dataSource: DataSource;

  constructor(
    @Inject(SERVICE_CONFIG) private readonly config: ServiceConfig,
    @Inject(DATABASE_OPTIONS) { migrations, planning }: DatabaseOptions,
    @Inject(SERVICE_LOG) private readonly log: ServiceLog,
    @Inject(ServiceLifecycle) lifecycle: ServiceLifecycle,
  ) {
    this.dataSource = createDataSource(config.postgres, migrations, planning);
    lifecycle.add({ phase: StartupPhase.Database, start: (signal) => this.connect(signal), stop: () => this.close() });
  }

  /** Connects and migrates, retrying until PostgreSQL answers or `signal` aborts. */
  async connect(signal: AbortSignal): Promise<void> {
    const settings = this.config.postgres;
    await retry(
      async () => {
        await ensureDatabaseAndSchema(settings);
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
        const applied = await this.dataSource.runMigrations({ transaction: 'each' });
        if (applied.length > 0)
          this.log.log(`applied ${applied.length} database migration(s): ${applied.map((m) => m.name).join(', ')}`);
      },
      {
        delayMs: growingDelay(250, 2000),
        stopped: () => signal.aborted,
        onFailure: (error, attempt) => {
          if (worthReporting(attempt)) this.log.warn(postgresWaitMessage(settings, error, attempt));
        },
      },
    );
  }

  /** 'up' when a query answers within a second. */
  async check(): Promise<'up' | 'down'> {
    if (!this.dataSource.isInitialized) return 'down';
    try {
      await withTimeout(this.dataSource.query('SELECT 1'), 1000);
      return 'up';
    } catch {
      return 'down';
    }
  }

  get isConnected(): boolean {
    return this.dataSource.isInitialized;
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * The database part of a service (global): the Database (connection and migrations) and the EventStore on it.
 * Needs ServiceModule.
 */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [
        { provide: DATABASE_OPTIONS, useValue: options },
        Database,
        { provide: DataSource, inject: [Database], useFactory: (database: Database) => database.dataSource },
        { provide: EventStore, inject: [DataSource], useFactory: (dataSource: DataSource) => new EventStore(dataSource) },
      ],
      exports: [Database, DataSource, EventStore],
    };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}
