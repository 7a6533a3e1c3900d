import type { Knex } from 'knex';
import { isRetryableTxError, type Db } from '../db/knex';

const MAX_ATTEMPTS = 5;

/**
 * Runs `fn` in a transaction, retrying when the database rolled it back for a deadlock or a lock
 * timeout (InnoDB picks a victim; the work is safe to redo because nothing of it was committed).
 */
export async function inTransaction<T>(db: Db, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(fn);
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
export function forUpdate(query: Knex.QueryBuilder, trx: Knex.Transaction): Knex.QueryBuilder {
  const client = trx.client.config.client;
  return client === 'mysql2' || client === 'mysql' ? query.forUpdate() : query;
}
