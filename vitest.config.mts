import { configDefaults, defineConfig } from 'vitest/config';

/*
 * Every test file runs twice: once against MariaDB/MySQL (TEST_DATABASE_URL) and once against the
 * embedded SQLite. Each file gets a database of its own (see test/helpers/db.ts), so files run in
 * parallel without seeing each other's rows.
 */
export default defineConfig({
  test: {
    // The cluster test starts its own Galera cluster: `npm run test:cluster` (vitest.cluster.config.mts).
    exclude: [...configDefaults.exclude, 'test/cluster/**'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'mysql', env: { TEST_DB: 'mysql' } } },
      { extends: true, test: { name: 'sqlite', env: { TEST_DB: 'sqlite' } } },
    ],
  },
});
