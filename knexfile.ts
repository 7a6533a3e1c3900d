import type { Knex } from 'knex';
import { knexConfig } from './src/db/knex';

/**
 * Used by the knex CLI (`npx knex migrate:latest`, `seed:run`, `migrate:make`). The CLI loads this
 * file through ts-node; the server itself migrates on start through `src/db/migrate.ts`.
 * DATABASE_URL picks MySQL/MariaDB; unset means the embedded SQLite file, as for the server.
 */
const config: Knex.Config = {
  ...knexConfig({
    url: process.env.DATABASE_URL || undefined,
    sqliteFile: process.env.SQLITE_FILE || undefined,
  }),
  migrations: { directory: './migrations', extension: 'ts', tableName: 'knex_migrations' },
  seeds: { directory: './seeds', extension: 'ts' },
};

export default config;
