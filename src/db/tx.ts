import type { Knex } from 'knex';
import { dbKind, holdConnection, isRetryableTxError, type Db, type Queryable } from './knex';
import { runOn, type KnexClient } from './prepared';

const MAX_ATTEMPTS = 5;

/**
 * One transaction: knex's query builder on the connection that ran BEGIN, held until COMMIT or
 * ROLLBACK. `tx('goods')…` and `tx.raw(…)` run on that connection.
 *
 * Not knex's `db.transaction()`: that builds a whole knex instance for every transaction (a client
 * copy, a transactor carrying every builder method, event forwarding), which cost more CPU than
 * BEGIN and COMMIT themselves and more than a stock change's statements (figures in
 * bench/README.md). Our transactions never nest, so knex's builder bound to a held pool
 * connection (its documented `.connection()`) is all they need.
 */
export type Tx = Queryable;

type Connection = unknown;

function bound(db: Db, conn: Connection): Tx {
  const tx = ((table: string) => db(table).connection(conn)) as Tx;
  tx.raw = (sql, bindings) => (bindings === undefined ? db.raw(sql) : db.raw(sql, bindings)).connection(conn);
  Object.defineProperty(tx, 'client', { value: db.client });
  holdConnection(tx, conn);
  return tx;
}

/** BEGIN, COMMIT and ROLLBACK go to the driver directly, as prepared statements do (src/db/prepared.ts). */
function send(db: Db, conn: Connection, sql: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<unknown> {
  return runOn(db.client as KnexClient, dbKind(db), conn, sql);
}

async function rollback(db: Db, conn: Connection): Promise<void> {
  try {
    await send(db, conn, 'ROLLBACK');
  } catch {
    // ROLLBACK fails only on a connection that died, and the server has already rolled back what
    // that connection did. knex's pool checks connections when it hands them out and replaces a
    // dead one, so nothing else is needed (test/domain/tx.test.ts kills one mid-transaction).
  }
}

async function once<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const conn: Connection = await db.client.acquireConnection();
  try {
    await send(db, conn, 'BEGIN');
    try {
      const result = await fn(bound(db, conn));
      await send(db, conn, 'COMMIT');
      return result;
    } catch (err) {
      await rollback(db, conn);
      throw err;
    }
  } finally {
    void db.client.releaseConnection(conn);
  }
}

/**
 * Runs `fn` in a transaction, retrying when the database rolled it back for a deadlock or a lock
 * timeout (InnoDB picks a victim; the work is safe to redo because nothing of it was committed).
 */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(db, fn);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || !isRetryableTxError(err)) throw err;
      await backoff(attempt);
    }
  }
}

export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * 10 * 2 ** attempt;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Row locks matter on MySQL only: SQLite runs one writer at a time and ignores FOR UPDATE noisily. */
export function forUpdate(query: Knex.QueryBuilder, tx: Queryable): Knex.QueryBuilder {
  return dbKind(tx) === 'mysql' ? query.forUpdate() : query;
}
