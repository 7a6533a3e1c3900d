import { dbKind, isWsrepConnection, type Db, type Queryable } from './knex';
import { runOn, type KnexClient } from './prepared';
import { bound } from './tx';

/*
 * Read-your-writes across Galera nodes. A commit returns once every node has certified the
 * write-set, but the other nodes apply it a moment later: a session created through node A can
 * be missing for a read on node B. `wsrep_sync_wait=1` makes a read wait until its node has
 * applied everything committed before it began. It costs a cluster round trip, so it is used only
 * where a miss may be that lag (an unknown session token, a requestId record that must exist), and
 * only on connections that reach a wsrep server (src/db/knex.ts detects it once per connection).
 */

/**
 * Runs `read` again so that it sees every write committed anywhere in the cluster before now.
 * Answers null, without reading, when the connection cannot lag behind a write (SQLite, plain
 * MySQL/MariaDB): the first answer stands.
 */
export async function rereadCausally<T>(db: Db, read: (q: Queryable) => Promise<T>): Promise<T | null> {
  if (dbKind(db) !== 'mysql') return null;
  const client = db.client as KnexClient;
  const conn = await client.acquireConnection();
  try {
    if (!isWsrepConnection(conn)) return null;
    await runOn(client, 'mysql', conn, 'SET SESSION wsrep_sync_wait = 1');
    try {
      return await read(bound(db, conn));
    } finally {
      // Back to the server's setting, so that the pooled connection's other reads stay cheap.
      await runOn(client, 'mysql', conn, 'SET SESSION wsrep_sync_wait = DEFAULT');
    }
  } finally {
    void client.releaseConnection(conn);
  }
}
