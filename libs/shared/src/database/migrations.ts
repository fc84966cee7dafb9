import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A migration as TypeORM takes it: a class it instantiates, named with its timestamp last. */
export type MigrationClass = new () => MigrationInterface;

/** What a migration made of SQL alone runs: `up`'s statements in order to apply it, `down`'s to undo it. */
export interface SqlMigrationStatements {
  readonly up: readonly string[];
  readonly down: readonly string[];
}

/**
 * A migration that runs SQL statements and nothing else, one after another. `name` is what TypeORM records it as
 * applied under and orders it by, so once a migration has run anywhere, neither its name nor its statements change.
 */
export function sqlMigration(name: string, statements: SqlMigrationStatements): MigrationClass {
  return class implements MigrationInterface {
    readonly name = name;

    async up(q: QueryRunner): Promise<void> {
      for (const sql of statements.up) await q.query(sql);
    }

    async down(q: QueryRunner): Promise<void> {
      for (const sql of statements.down) await q.query(sql);
    }
  };
}
