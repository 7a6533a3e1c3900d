import { describe, expect, it } from 'vitest';
import { rereadCausally } from '../../src/db/causal';
import { isWsrepConnection } from '../../src/db/knex';
import { useTestApp } from '../helpers/app';

/*
 * Off a Galera cluster the causal re-read (src/db/causal.ts) costs nothing: plain MariaDB and
 * SQLite connections are known not to lag, so it answers null without a statement. On the cluster
 * (test/cluster) it waits for the node to catch up.
 */
describe('causal re-read off a cluster', () => {
  const t = useTestApp();

  it('answers null without running anything', async () => {
    let statements = 0;
    const count = () => statements++;
    t.db.on('query', count);
    try {
      expect(await rereadCausally(t.db, (q) => q('users').select('id'))).toBeNull();
    } finally {
      t.db.off('query', count);
    }
    expect(statements).toBe(0);
  });

  it.runIf(process.env.TEST_DB !== 'sqlite')('knows a plain MariaDB connection is not wsrep', async () => {
    const conn = await t.db.client.acquireConnection();
    try {
      expect(isWsrepConnection(conn)).toBe(false);
    } finally {
      await t.db.client.releaseConnection(conn);
    }
  });
});
