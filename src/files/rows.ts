import type { Knex } from 'knex';
import { dbKind, type Db } from '../db/knex';

/*
 * The rows of a query, one at a time, with memory that does not grow with their number.
 *
 * MySQL: knex's `.stream()` over mysql2, which reads the result set from the socket as the consumer
 * asks for rows (backpressure pauses the connection). SQLite: knex's better-sqlite3 "stream" runs the
 * whole query into an array first, and the pool has a single connection that a long export would
 * hold away from every other request; so there the rows come in keyset pages by id, each a short
 * query of its own.
 */

const SQLITE_PAGE = 1000;

export async function* streamRows<Row extends Record<string, unknown>>(
  db: Db,
  query: () => Knex.QueryBuilder,
  opts: { idColumn: string; idKey?: string; order: 'asc' | 'desc' },
): AsyncGenerator<Row> {
  if (dbKind(db) === 'mysql') {
    const stream = query().orderBy(opts.idColumn, opts.order).stream();
    try {
      for await (const row of stream) yield row as Row;
    } finally {
      // A consumer that stops early (the phone went away) must not leave the query running.
      stream.destroy();
    }
    return;
  }
  const key = opts.idKey ?? opts.idColumn.replace(/^.*\./, '');
  let after: number | null = null;
  for (;;) {
    const page = query();
    if (after !== null) page.where(opts.idColumn, opts.order === 'asc' ? '>' : '<', after);
    const rows = (await page.orderBy(opts.idColumn, opts.order).limit(SQLITE_PAGE)) as Row[];
    for (const row of rows) yield row;
    if (rows.length < SQLITE_PAGE) return;
    after = Number(rows[rows.length - 1]![key]);
  }
}
