import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';

/*
 * Keyset pagination by id, newest first. The cursor is the last id of the previous page, wrapped
 * so clients treat it as opaque. Each page holds every row (of the filter) with an id in
 * [its last id, the cursor), so the pages cover all ids without overlap: every row that existed
 * at the first page is returned exactly once and none twice. Ids are not in commit order (an
 * earlier transaction can commit later, and Galera nodes hand out interleaved ids), so a row
 * committed while a client pages shows up only if its id is below the cursor reached; the promise
 * above does not depend on the order (test/cluster checks it with interleaved ids).
 */

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const CURSOR_PREFIX = 'id:';

export function encodeCursor(lastId: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${lastId}`, 'utf8').toString('base64url');
}

/** The id a cursor points after; BAD_REQUEST for anything we did not hand out. */
export function decodeCursor(cursor: string): number {
  const invalid = () => new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid cursor: pass nextCursor from the previous page' });
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^id:([1-9]\d{0,15})$/.exec(decoded);
  if (!m) throw invalid();
  const id = Number(m[1]);
  if (!Number.isSafeInteger(id)) throw invalid();
  return id;
}

/**
 * Runs `query` (already filtered) for one page ordered by `idColumn`, newest first unless `order`
 * is 'asc' (a list in the order it was stored, such as an import's rows: the same promise with the
 * interval turned round). Fetches one extra row to know whether another page exists without a COUNT.
 */
export async function fetchPage<Row extends { id: number }, T>(
  query: Knex.QueryBuilder,
  opts: { idColumn: string; cursor?: string | null; limit: number; map: (row: Row) => T; order?: 'asc' | 'desc' },
): Promise<Page<T>> {
  const order = opts.order ?? 'desc';
  if (opts.cursor) query.where(opts.idColumn, order === 'desc' ? '<' : '>', decodeCursor(opts.cursor));
  const rows = (await query.orderBy(opts.idColumn, order).limit(opts.limit + 1)) as Row[];
  const hasMore = rows.length > opts.limit;
  const pageRows = hasMore ? rows.slice(0, opts.limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(opts.map),
    nextCursor: hasMore && last ? encodeCursor(Number(last.id)) : null,
  };
}
