import type { Knex } from 'knex';
import { dbKind, heldConnection, type DbKind, type Queryable } from './knex';

/*
 * Statements on every request's path (the session lookup, the scan, the stock changes), written
 * with knex's builder, compiled once per database kind, then run with each call's values bound to
 * them by the driver. Building and compiling the same SQL for every request, and knex's runner
 * around each statement, cost more of the server's CPU than the round trip itself
 * (bench/README.md).
 *
 * `build` receives the parameters as placeholders: it may only hand them to the builder as values
 * (where, on-values, update and insert values, raw bindings), never inspect them or make SQL text
 * from them. Their type (Param) is opaque and symbol-like, so TypeScript refuses to compare,
 * compute with or interpolate one. A parameter the compiled statement does not bind is refused at
 * the first call.
 */

declare const parameter: unique symbol;
/** A parameter of a prepared statement while it is built: a value to bind, nothing to look into. */
export type Param<T> = symbol & Record<string, never> & { readonly [parameter]: T };
type Params<P> = { readonly [K in keyof P]: Param<P[K]> };

/** Stands for a parameter while a statement is compiled. */
class Placeholder {
  constructor(readonly name: string) {}
}

interface Compiled {
  sql: string;
  /** The compiled statement's bindings: values it fixes, and placeholders for the parameters. */
  bindings: readonly unknown[];
}

/** What an INSERT, UPDATE or DELETE did. */
export interface WriteResult {
  affectedRows: number;
  /** The AUTO_INCREMENT / rowid of an INSERT's row. */
  insertId: number;
}

type Build<P> = (q: Queryable, params: Params<P>) => Knex.QueryBuilder;
type Bind<P> = (q: Queryable, params: P) => { kind: DbKind; sql: string; values: unknown[] };

function compiler<P extends Record<string, unknown>>(build: Build<P>): Bind<P> {
  const compiled = new Map<DbKind, Compiled>();
  const compile = (q: Queryable, kind: DbKind): Compiled => {
    const used = new Set<string>();
    const placeholders = new Proxy({} as Params<P>, {
      get: (_target, name) => {
        if (typeof name !== 'string') return undefined;
        used.add(name);
        return new Placeholder(name);
      },
    });
    const { sql, bindings } = build(q, placeholders).toSQL() as { sql: string; bindings: readonly unknown[] };
    const bound = new Set(bindings.filter((b): b is Placeholder => b instanceof Placeholder).map((b) => b.name));
    const unbound = [...used].filter((name) => !bound.has(name));
    if (unbound.length > 0) throw new Error(`prepared statement does not bind ${unbound.join(', ')}: ${sql}`);
    const entry = { sql, bindings: [...bindings] };
    compiled.set(kind, entry);
    return entry;
  };
  return (q, params) => {
    const kind = dbKind(q);
    const { sql, bindings } = compiled.get(kind) ?? compile(q, kind);
    return { kind, sql, values: bindings.map((b) => (b instanceof Placeholder ? params[b.name] : b)) };
  };
}

/** A SELECT: answers its rows. */
export function preparedSelect<P extends Record<string, unknown>, Row>(build: Build<P>): (q: Queryable, params: P) => Promise<Row[]> {
  const bind = compiler(build);
  return (q, params) => runBound(q, bind, params) as Promise<Row[]>;
}

/** An INSERT, UPDATE or DELETE: answers what it did. */
export function preparedWrite<P extends Record<string, unknown>>(build: Build<P>): (q: Queryable, params: P) => Promise<WriteResult> {
  const bind = compiler(build);
  return (q, params) => runBound(q, bind, params).then((result) => writeResult(dbKind(q), result));
}

function writeResult(kind: DbKind, result: unknown): WriteResult {
  if (kind === 'mysql') {
    const header = result as { affectedRows: number; insertId: number };
    return { affectedRows: header.affectedRows, insertId: header.insertId };
  }
  const info = result as { changes: number; lastInsertRowid: number | bigint };
  return { affectedRows: info.changes, insertId: Number(info.lastInsertRowid) };
}

/*
 * From here on promise chains rather than async functions: these run several times per request,
 * and each async layer costs turns of the microtask queue that the profile showed (bench/README.md).
 */

function runBound<P extends Record<string, unknown>>(q: Queryable, bind: Bind<P>, params: P): Promise<unknown> {
  let bound: ReturnType<Bind<P>>;
  try {
    bound = bind(q, params);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return run(q, bound.kind, bound.sql, bound.values);
}

/** The parts of knex's client used here: its pool, and its events (forwarded by the knex instance). */
export interface KnexClient {
  acquireConnection(): Promise<unknown>;
  releaseConnection(conn: unknown): Promise<void>;
  emit(event: string, ...args: unknown[]): boolean;
}

/** Runs on the connection a transaction holds, or on one from knex's pool for this statement alone. */
function run(q: Queryable, kind: DbKind, sql: string, values: unknown[]): Promise<unknown> {
  const client = q.client as KnexClient;
  const held = heldConnection(q);
  if (held !== undefined) return runOn(client, kind, held, sql, values);
  return client.acquireConnection().then((conn) => {
    // knex releases synchronously (its promise is already resolved): nothing to wait for.
    const release = () => void client.releaseConnection(conn);
    return runOn(client, kind, conn, sql, values).then(
      (result) => {
        release();
        return result;
      },
      (err: unknown) => {
        release();
        throw err;
      },
    );
  });
}

/**
 * One statement through the driver's own call on `conn`, as knex's runner would send it, minus
 * building a Raw, compiling it again and its debug output. knex's `query`, `query-response` and
 * `query-error` events are still emitted, so whatever watches the queries sees these too (tests
 * count session lookups that way). Answers the driver's result: rows for a SELECT, mysql2's
 * ResultSetHeader or better-sqlite3's RunResult otherwise.
 */
export function runOn(client: KnexClient, kind: DbKind, conn: unknown, sql: string, values: unknown[] = []): Promise<unknown> {
  const query = { method: 'raw', sql, bindings: values, __knexUid: (conn as { __knexUid?: string }).__knexUid };
  client.emit('query', query);
  return driverRun(kind, conn, sql, values).then(
    (result) => {
      client.emit('query-response', result, query);
      return result;
    },
    (err: unknown) => {
      client.emit('query-error', err, query);
      throw err;
    },
  );
}

interface MysqlConnection {
  query(sql: string, values: unknown[], cb: (err: Error | null, result: unknown) => void): void;
}
interface SqliteStatement {
  reader: boolean;
  all(values: unknown[]): unknown[];
  run(values: unknown[]): unknown;
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

function driverRun(kind: DbKind, conn: unknown, sql: string, values: unknown[]): Promise<unknown> {
  if (kind === 'mysql') {
    return new Promise((resolve, reject) => {
      // (sql, values, cb) rather than an options object, which mysql2 copies field by field.
      (conn as MysqlConnection).query(sql, values, (err, result) => (err ? reject(err) : resolve(result)));
    });
  }
  // As knex's better-sqlite3 client binds them: dates as epoch milliseconds, booleans as 0/1.
  const sqliteValues = values.map((v) => (v instanceof Date ? v.valueOf() : typeof v === 'boolean' ? Number(v) : v));
  try {
    const statement = (conn as SqliteConnection).prepare(sql);
    return Promise.resolve(statement.reader ? statement.all(sqliteValues) : statement.run(sqliteValues));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
