import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Knex } from 'knex';

/** The project root: the nearest folder with a package.json, from src/db or from the built dist/server. */
function projectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const MIGRATIONS_DIR = path.join(projectRoot(__dirname), 'migrations');
export const MIGRATIONS_TABLE = 'knex_migrations';

type Migration = Knex.Migration;

/**
 * Loads `migrations/*.ts` through our own module loader instead of knex's `require`, which cannot
 * read TypeScript by itself: tsx at development time, vitest in tests, and in the built server
 * (scripts/build-server.ts) esbuild, which compiles every file the import pattern below can name into
 * the bundle. Names are the file names, exactly as the knex CLI records them, so the CLI and the
 * server share one migrations table.
 */
export class TsMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    const files = await readdir(MIGRATIONS_DIR);
    return files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts')).sort();
  }

  getMigrationName(file: string): string {
    return file;
  }

  async getMigration(file: string): Promise<Migration> {
    const mod = (await import(`../../migrations/${file}`)) as Partial<Migration> & { default?: Migration };
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
