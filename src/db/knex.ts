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
          conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
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
  query(sql: string, cb: (err: Error | null) => void): void;
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

/** Deadlocks and lock-wait timeouts: the transaction was rolled back and may be retried. */
export function isRetryableTxError(err: unknown): boolean {
  const e = err as { errno?: number; code?: string } | undefined;
  return e?.errno === 1213 || e?.errno === 1205 || e?.code === 'ER_LOCK_DEADLOCK' || e?.code === 'SQLITE_BUSY';
}

/**
 * The database could not be reached or dropped the connection: a passing state of the server, not
 * a bug in the request. Covers mysql2's socket and protocol errors and knex's pool acquire timeout.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; name?: string; fatal?: boolean } | undefined;
  if (!e) return false;
  if (e.name === 'KnexTimeoutError') return true;
  if (e.errno !== undefined && [1040, 2002, 2003, 2006, 2013].includes(e.errno)) return true;
  return (
    e.fatal === true ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR'].includes(
      e.code ?? '',
    )
  );
}
