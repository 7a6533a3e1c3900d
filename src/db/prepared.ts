import type { Knex } from 'knex';
import { dbKind, type DbKind, type Queryable } from './knex';

/** Stands for a parameter while a prepared query is compiled. */
class Placeholder {
  constructor(readonly name: string) {}
}

interface Compiled {
  sql: string;
  /** The compiled query's bindings: values the query fixes, and placeholders for the parameters. */
  bindings: readonly unknown[];
}

/**
 * A SELECT written with knex's builder, compiled once per database kind, then run with each call's
 * values bound to it. For the queries on every request's path (the session lookup, the scan):
 * building and compiling the same SQL again for every request cost more CPU than running it.
 *
 * `build` receives the parameters as placeholders: it may only pass them to the builder as values
 * (where, on-values, limits), never inspect them or build SQL text from them. A placeholder the
 * compiled query does not bind is refused at the first call.
 */
export function preparedSelect<P extends Record<string, unknown>, Row>(
  build: (q: Queryable, params: P) => Knex.QueryBuilder,
): (q: Queryable, params: P) => Promise<Row[]> {
  const compiled = new Map<DbKind, Compiled>();
  const compile = (q: Queryable, kind: DbKind): Compiled => {
    const used = new Set<string>();
    const placeholders = new Proxy({} as P, {
      get: (_target, name) => {
        if (typeof name !== 'string') return undefined;
        used.add(name);
        return new Placeholder(name);
      },
    });
    const { sql, bindings } = build(q, placeholders).toSQL() as { sql: string; bindings: readonly unknown[] };
    const bound = new Set(bindings.filter((b): b is Placeholder => b instanceof Placeholder).map((b) => b.name));
    const unbound = [...used].filter((name) => !bound.has(name));
    if (unbound.length > 0) throw new Error(`prepared query does not bind ${unbound.join(', ')}: ${sql}`);
    const entry = { sql, bindings: [...bindings] };
    compiled.set(kind, entry);
    return entry;
  };
  return async (q, params) => {
    const kind = dbKind(q);
    const { sql, bindings } = compiled.get(kind) ?? compile(q, kind);
    const values = bindings.map((b) => (b instanceof Placeholder ? params[b.name] : b)) as Knex.RawBinding[];
    const result: unknown = await q.raw(sql, values);
    // knex.raw answers with the driver's own shape: mysql2 [rows, fields], better-sqlite3 rows.
    return (kind === 'mysql' ? (result as [Row[]])[0] : result) as Row[];
  };
}
