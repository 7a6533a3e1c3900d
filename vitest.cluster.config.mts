import { defineConfig } from 'vitest/config';

/*
 * `npm run test:cluster`: the several-machines test (test/cluster), which starts by itself a
 * 3-node MariaDB Galera cluster, two haproxy balancers, two server processes and a redis-server,
 * all on loopback. One file, one fork: it owns fixed ports (33061-33063, 4567/4577/4587, …) and
 * most of the machine while it runs. Not part of `npm test` (vitest.config.mts excludes it).
 */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['./test/cluster/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
    env: { TEST_DB: 'mysql' },
  },
});
