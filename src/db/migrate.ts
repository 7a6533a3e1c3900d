import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';

export const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');
export const MIGRATIONS_TABLE = 'knex_migrations';

type Migration = Knex.Migration;

/**
 * Loads `migrations/*.ts` through our own module loader (tsx at run time, vitest in tests) instead
 * of knex's `require`, which cannot read TypeScript by itself. Names are the file names, exactly as
 * the knex CLI records them, so the CLI and the server share one migrations table.
 */
export class TsMigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly dir: string = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<string[]> {
    const files = await readdir(this.dir);
    return files.filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file;
  }

  async getMigration(file: string): Promise<Migration> {
    const mod = (await import(pathToFileURL(path.join(this.dir, file)).href)) as Partial<Migration> & {
      default?: Migration;
    };
    const migration = typeof mod.up === 'function' ? (mod as Migration) : mod.default;
    if (!migration || typeof migration.up !== 'function') {
      throw new Error(`Migration ${file} exports no up() function`);
    }
    return migration;
  }
}

export function migrationConfig(): Knex.MigratorConfig {
  return { migrationSource: new TsMigrationSource(), tableName: MIGRATIONS_TABLE };
}

/** Applies pending migrations; returns the names applied in this call. */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig())) as [number, string[]];
  return applied;
}

export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback(migrationConfig(), true);
}
