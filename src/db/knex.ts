import { mkdirSync } from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';

export type Db = Knex;
export type DbKind = 'mysql' | 'sqlite';

export interface DatabaseOptions {
  /** `mysql://user:pass@host:port/db`; unset means the embedded SQLite file. */
  url?: string;
  sqliteFile?: string;
  poolMax?: number;
  /** Where knex's own warnings go (e.g. "Acquire connection error" while the database is down). */
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; debug(obj: object, msg: string): void };
}

export const DEFAULT_SQLITE_FILE = './data/scancode.sqlite3';

/** Parses a mysql:// URL into mysql2 connection options, decoding user and password. */
export interface MysqlConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database?: string;
}

export function mysqlConnectionFromUrl(url: string): MysqlConnection {
  const u = new URL(url);
  if (u.protocol !== 'mysql:' && u.protocol !== 'mysql2:') {
    throw new Error(`Unsupported database URL scheme "${u.protocol}" (expected mysql://)`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    ...(database ? { database } : {}),
  };
}

/** mysql2 settings shared by knex and the benchmark's bare baseline (see knexConfig for why). */
export const MYSQL_DRIVER_OPTIONS = {
  charset: 'utf8mb4',
  timezone: 'Z',
  dateStrings: false,
  supportBigNumbers: true,
  bigNumberStrings: false,
  decimalNumbers: true,
  connectTimeout: 5000,
} as const;

/**
 * The knex configuration for either database. The mysql2 settings avoid its usual traps:
 * every timestamp is UTC on both ends (driver `timezone: 'Z'` and the session `time_zone`),
 * DATETIME comes back as a Date, BIGINT ids come back as numbers, and utf8mb4 keeps emoji.
 */
export function knexConfig(options: DatabaseOptions = {}): Knex.Config {
  const poolMax = options.poolMax ?? 10;
  const log = options.log ? { log: knexLogger(options.log) } : {};
  if (options.url) {
    return {
      ...log,
      client: 'mysql2',
      connection: { ...mysqlConnectionFromUrl(options.url), ...MYSQL_DRIVER_OPTIONS },
      // min 0: idle connections are closed by the server eventually; a pool that keeps a floor of
      // them hands out dead sockets after a database restart.
      pool: {
        min: 0,
        max: poolMax,
        acquireTimeoutMillis: 10_000,
        afterCreate(conn: MysqlCallbackConnection, done: (err: Error | null, conn: unknown) => void) {
          conn.query("SET time_zone = '+00:00'", (err) => {
            if (err) return done(err, conn);
            detectWsrep(conn, done);
          });
        },
      },
      acquireConnectionTimeout: 10_000,
    };
  }
  const filename = options.sqliteFile ?? DEFAULT_SQLITE_FILE;
  if (filename !== ':memory:') mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  return {
    ...log,
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 0,
      max: 1,
      afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  };
}

/** Sends knex's console messages to the structured logger, so they carry level and context. */
function knexLogger(log: NonNullable<DatabaseOptions['log']>): Knex.Config['log'] {
  const messageText = (message: unknown) => (message instanceof Error ? message.message : String(message));
  return {
    warn: (message) => log.warn({ component: 'knex' }, messageText(message)),
    error: (message) => log.error({ component: 'knex' }, messageText(message)),
    deprecate: (method, alternative) => log.warn({ component: 'knex' }, `${method} is deprecated, use ${alternative}`),
    debug: (message) => log.debug({ component: 'knex' }, messageText(message)),
  };
}

interface MysqlCallbackConnection {
  query(sql: string, cb: (err: Error | null, rows?: unknown) => void): void;
}

/** Pool connections that reach a Galera node (wsrep on): reads that must be causal wait there. */
const wsrepConnections = new WeakSet<object>();

/**
 * Asks the server once per connection whether it replicates with wsrep (Galera). Through a TCP
 * balancer each connection may reach another server, so the answer belongs to the connection.
 * A server without the variable (MySQL) answers no row; plain MariaDB answers OFF.
 */
function detectWsrep(conn: MysqlCallbackConnection, done: (err: Error | null, conn: unknown) => void): void {
  conn.query("SHOW VARIABLES LIKE 'wsrep_on'", (err, rows) => {
    if (err) return done(err, conn);
    const row = (rows as Array<{ Value?: unknown }> | undefined)?.[0];
    if (String(row?.Value ?? '').toUpperCase() === 'ON') wsrepConnections.add(conn as object);
    done(null, conn);
  });
}

/** Whether this pool connection reaches a server replicating with wsrep. */
export function isWsrepConnection(conn: unknown): boolean {
  return typeof conn === 'object' && conn !== null && wsrepConnections.has(conn);
}
interface SqliteConnection {
  pragma(source: string): unknown;
}

export function createDb(options: DatabaseOptions = {}): Db {
  return knexFactory(knexConfig(options));
}

/**
 * Where a query starts: the pool (Db), a knex transaction, or a transaction of ours (Tx in
 * src/db/tx.ts). Functions that only read or write take this, so they work inside and outside
 * transactions alike.
 */
export interface Queryable {
  (table: string): Knex.QueryBuilder;
  raw(sql: string, bindings?: readonly Knex.RawBinding[] | Knex.ValueDict): Knex.Raw;
  readonly client: unknown;
}

const HELD_CONNECTION = Symbol('held connection');

/** Marks `q` as running on one connection (a transaction's), which heldConnection() then returns. */
export function holdConnection(q: Queryable, conn: unknown): void {
  Object.defineProperty(q, HELD_CONNECTION, { value: conn });
}

/** The connection a transaction's Queryable runs on; undefined for the pool. */
export function heldConnection(q: Queryable): unknown {
  return (q as { [HELD_CONNECTION]?: unknown })[HELD_CONNECTION];
}

export function dbKind(db: Pick<Queryable, 'client'>): DbKind {
  const client = (db.client as Knex.Client).config.client;
  return client === 'mysql2' || client === 'mysql' ? 'mysql' : 'sqlite';
}

/** A nullable numeric column: mysql2 gives BIGINT and DECIMAL values as strings; NULL stays null. */
export function toNullableNumber(value: number | string | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** Rows from SQLite carry timestamps as epoch milliseconds; MySQL gives Dates. */
export function toDate(value: Date | number | string): Date {
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value);
  return new Date(/^\d+$/.test(value) ? Number(value) : value);
}

/** MySQL and MariaDB report a duplicate key as errno 1062; SQLite as SQLITE_CONSTRAINT_UNIQUE. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { errno?: number; code?: string } | undefined;
  return e?.errno === 1062 || e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Deadlocks and lock-wait timeouts: the transaction was rolled back and may be retried. On Galera
 * 1213 is also a certification conflict with a transaction committed through another node, raised
 * at any statement or at COMMIT.
 */
export function isRetryableTxError(err: unknown): boolean {
  const e = err as { errno?: number; code?: string } | undefined;
  return e?.errno === 1213 || e?.errno === 1205 || e?.code === 'ER_LOCK_DEADLOCK' || e?.code === 'SQLITE_BUSY';
}

/**
 * The connection itself is gone (the server died, a balancer cut it, it was killed): no answer
 * came, as opposed to an error the server sent.
 */
export function isConnectionLost(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; fatal?: boolean; message?: string } | undefined;
  if (!e) return false;
  if (e.errno === 2006 || e.errno === 2013) return true;
  if (['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(e.code ?? '')) return true;
  // mysql2 refuses a command on a connection it already knows is dead with a fatal error, no code.
  return e.fatal === true && e.errno === undefined;
}

/**
 * The database could not be reached or dropped the connection: a passing state of the server, not
 * a bug in the request. Covers mysql2's socket and protocol errors and knex's pool acquire timeout.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; name?: string; fatal?: boolean } | undefined;
  if (!e) return false;
  if (e.name === 'KnexTimeoutError') return true;
  // COMMIT_OUTCOME_UNKNOWN: src/db/tx.ts, a COMMIT whose connection died. 1047: a Galera node that
  // is not part of the primary component (WSREP has not yet prepared node for application use).
  if (e.code === 'COMMIT_OUTCOME_UNKNOWN') return true;
  if (e.errno !== undefined && [1040, 1047, 2002, 2003, 2006, 2013].includes(e.errno)) return true;
  return (
    e.fatal === true ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR'].includes(
      e.code ?? '',
    )
  );
}
