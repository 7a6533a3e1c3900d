import type { Knex } from 'knex';
import { dbKind, holdConnection, isConnectionLost, isRetryableTxError, type Db, type Queryable } from './knex';
import { runOn, type KnexClient } from './prepared';

/** Whole attempts of one transaction; the backoff between them adds up to about 2.5 s at most. */
const MAX_ATTEMPTS = 8;
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 1000;

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

/**
 * The connection died while COMMIT was on its way: the server may have committed or not, and
 * nothing here can tell which. Redoing the work could apply it twice, so it is never retried in
 * process; the caller answers SERVICE_UNAVAILABLE and the client retries with its requestId, whose
 * idempotency record (src/domain/idempotency.ts) replays the first outcome if there was one.
 */
export class CommitOutcomeUnknown extends Error {
  override name = 'CommitOutcomeUnknown';
  readonly code = 'COMMIT_OUTCOME_UNKNOWN';
  constructor(override readonly cause: unknown) {
    super(`The connection was lost during COMMIT: the change may or may not have been applied (${(cause as Error)?.message ?? cause})`);
  }
}

/** Why a transaction is being run again (the label of the retry counter in src/http/metrics.ts). */
export type RetryReason = 'conflict' | 'not_ready' | 'connection_lost';

export interface TransactionObserver {
  retry(reason: RetryReason): void;
  commitUnknown(): void;
}

const observers = new WeakMap<object, TransactionObserver>();

/** Reports this database handle's retries and unknown commits (metrics); one observer per handle. */
export function observeTransactions(db: Db, observer: TransactionObserver | null): void {
  if (observer) observers.set(db, observer);
  else observers.delete(db);
}

/** knex's builder on one pool connection. */
export function bound(db: Db, conn: Connection): Tx {
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

async function commit(db: Db, conn: Connection): Promise<void> {
  try {
    await send(db, conn, 'COMMIT');
  } catch (err) {
    // An answer from the server (a Galera certification failure 1213, 1047 when the node left the
    // primary component) means it rolled back: the caller may redo the whole transaction. No
    // answer at all means the outcome is unknown.
    if (isConnectionLost(err)) throw new CommitOutcomeUnknown(err);
    throw err;
  }
}

async function once<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const conn: Connection = await db.client.acquireConnection();
  try {
    await send(db, conn, 'BEGIN');
    let result: T;
    try {
      result = await fn(bound(db, conn));
    } catch (err) {
      await rollback(db, conn);
      throw err;
    }
    try {
      await commit(db, conn);
    } catch (err) {
      if (!(err instanceof CommitOutcomeUnknown)) await rollback(db, conn);
      throw err;
    }
    return result;
  } finally {
    void db.client.releaseConnection(conn);
  }
}

/** Whether a failed attempt may be redone from the start, and why: nothing of it was committed. */
function retryReason(err: unknown): RetryReason | null {
  if (err instanceof CommitOutcomeUnknown) return null;
  const errno = (err as { errno?: number } | undefined)?.errno;
  if (errno === 1047) return 'not_ready';
  if (isRetryableTxError(err)) return 'conflict';
  // A connection that died before COMMIT was sent: the server rolled the transaction back (a
  // Galera node killed under us; the balancer sends the next connection to another node).
  if (isConnectionLost(err)) return 'connection_lost';
  return null;
}

/**
 * Runs `fn` in a transaction, redoing it whole when the database rolled it back: an InnoDB
 * deadlock or lock timeout, a Galera certification conflict (1213, at any statement or at COMMIT),
 * a node not ready (1047), or a connection lost before COMMIT. The work is safe to redo because
 * nothing of it was committed. A connection lost during COMMIT is CommitOutcomeUnknown, never
 * redone here.
 */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(db, fn);
    } catch (err) {
      const reason = retryReason(err);
      if (err instanceof CommitOutcomeUnknown) observers.get(db)?.commitUnknown();
      if (attempt >= MAX_ATTEMPTS || reason === null) throw err;
      observers.get(db)?.retry(reason);
      await backoff(attempt);
    }
  }
}

/** Exponential backoff with jitter (half to full of the step), capped. */
export function backoff(attempt: number): Promise<void> {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const ms = step / 2 + (Math.random() * step) / 2;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Row locks matter on MySQL only: SQLite runs one writer at a time and ignores FOR UPDATE noisily. */
export function forUpdate(query: Knex.QueryBuilder, tx: Queryable): Knex.QueryBuilder {
  return dbKind(tx) === 'mysql' ? query.forUpdate() : query;
}
