import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { dbKind } from './knex';

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
    // The extension stays in the static part of the pattern, as bundlers ask of a dynamic import.
    const name = file.replace(/\.ts$/, '');
    const mod = (await import(`../../migrations/${name}.ts`)) as Partial<Migration> & { default?: Migration };
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

/** The MySQL user lock that serialises the migrations of nodes starting at the same time. */
export const MIGRATION_LOCK_NAME = 'scancode_migrate';
/** How long GET_LOCK waits in one go; it is asked again (with a log line) until the deadline. */
const LOCK_WAIT_SECONDS = 10;
const RETRY_EVERY_MS = 500;

export interface MigrateOptions {
  /** How long to wait for another node's migration before giving up (default 5 minutes). */
  timeoutMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

async function latest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(migrationConfig())) as [number, string[]];
  return applied;
}

/**
 * What knex's migrator throws when another process migrates at the same moment: its own lock
 * (MigrationLocked), or the loser of the race to create its tables (1050 table exists, 1062 on the
 * lock row) or, on Galera, of the lock row's certification (1213). Once the other is done, running
 * migrate.latest again finds nothing pending.
 */
function isConcurrentMigration(err: unknown): boolean {
  const e = err as { name?: string; errno?: number } | undefined;
  return e?.name === 'MigrationLocked' || e?.errno === 1050 || e?.errno === 1062 || e?.errno === 1213;
}

/**
 * Applies pending migrations; returns the names applied in this call (none when another process
 * applied them). Safe when several nodes start at once on one database: on MySQL each holds the
 * user lock GET_LOCK('scancode_migrate') on a connection of its own while it migrates, so one
 * migrates and the others wait and then find nothing to do. Where the lock is not shared (Galera
 * keeps user locks per node) knex's own lock still lets only one migrate, and the others retry
 * until the migrations are applied. SQLite is one process's file: no lock needed.
 */
export async function migrateLatest(db: Knex, opts: MigrateOptions = {}): Promise<string[]> {
  if (dbKind(db) !== 'mysql') return latest(db);
  const deadline = Date.now() + (opts.timeoutMs ?? 5 * 60_000);
  const config = (db.client as Knex.Client).config;
  // Its own pool of one: the lock must stay on one connection, and the migrator must still find
  // free connections in the server's pool however small DB_POOL_MAX is.
  const lockDb = knexFactory({ client: config.client, connection: config.connection, pool: { min: 0, max: 1 } });
  let conn: unknown;
  try {
    conn = await lockDb.client.acquireConnection();
    let locked = false;
    try {
      while (!locked) {
        const [rows] = (await lockDb
          .raw('SELECT GET_LOCK(?, ?) AS got', [MIGRATION_LOCK_NAME, LOCK_WAIT_SECONDS])
          .connection(conn)) as unknown as [Array<{ got: number | null }>];
        locked = Number(rows[0]?.got) === 1;
        if (!locked) {
          if (Date.now() > deadline) throw new Error(`another node held the migration lock ${MIGRATION_LOCK_NAME} for too long`);
          opts.log?.info({ lock: MIGRATION_LOCK_NAME }, 'waiting for another node to finish migrating the database');
        }
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      // A server without user locks: knex's own lock and the retries below still serialise.
      opts.log?.warn({ err }, 'could not take the migration lock; relying on knex migration lock and retries');
    }
    for (;;) {
      try {
        return await latest(db);
      } catch (err) {
        if (!isConcurrentMigration(err) || Date.now() > deadline) throw err;
        opts.log?.info({ reason: (err as Error).message }, 'another node is migrating the database; waiting');
        await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
      }
    }
  } finally {
    if (conn !== undefined) {
      // Closing the connection would release the lock as well; releasing first says so explicitly.
      await lockDb
        .raw('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK_NAME])
        .connection(conn)
        .catch(() => undefined);
      await lockDb.client.releaseConnection(conn);
    }
    await lockDb.destroy();
  }
}

export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback(migrationConfig(), true);
}
