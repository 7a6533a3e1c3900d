import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import { dbKind, isUniqueViolation, toDate, type Db, type Queryable } from '../db/knex';
import { notFound } from '../directory/directories';
import { fetchPage, type Page } from '../domain/page';
import { preparedSelect } from '../db/prepared';
import { forUpdate, inTransaction, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';

/** Goods (商品) as API.md defines them. */
export interface Goods {
  id: number;
  directoryId: number;
  code: string;
  name: string;
  remarks: string;
  quantity: number;
  createdAt: Date;
  lastActiveAt: Date;
}

export interface GoodsRow {
  id: number;
  directory_id: number;
  code: string;
  name: string;
  remarks: string;
  quantity: number;
  created_at: Date | number;
  last_active_at: Date | number;
}

export const GOODS_COLUMNS = ['id', 'directory_id', 'code', 'name', 'remarks', 'quantity', 'created_at', 'last_active_at'];

type Conn = Queryable;

export function toGoods(row: GoodsRow): Goods {
  return {
    id: Number(row.id),
    directoryId: Number(row.directory_id),
    code: row.code,
    name: row.name,
    remarks: row.remarks,
    quantity: Number(row.quantity),
    createdAt: toDate(row.created_at),
    lastActiveAt: toDate(row.last_active_at),
  };
}

/** Live goods of this user, by id. */
export async function findGoods(db: Conn, userId: number, id: number): Promise<GoodsRow | undefined> {
  return (await db('goods').select(GOODS_COLUMNS).where({ id, user_id: userId, live: 1 }).first()) as GoodsRow | undefined;
}

export async function getGoods(db: Conn, userId: number, id: number): Promise<Goods> {
  const row = await findGoods(db, userId, id);
  if (!row) throw notFound('Goods');
  return toGoods(row);
}

/** NOT_FOUND unless the directory is live and this user's: ids of others behave like missing ones. */
export async function assertDirectory(db: Conn, userId: number, directoryId: number): Promise<void> {
  const row = await db('directories').select('id').where({ id: directoryId, user_id: userId, live: 1 }).first();
  if (!row) throw notFound('Directory');
}

/** The scan's one statement, compiled once (src/db/prepared.ts): it runs for every scan. */
const selectScan = preparedSelect<{ userId: number; directoryId: number; code: string }, Omit<GoodsRow, 'id'> & { id: number | null }>(
  (q, p) =>
    q('directories as d')
      .leftJoin('goods as g', (join) =>
        join.on('g.directory_id', 'd.id').andOn('g.user_id', 'd.user_id').andOnVal('g.code', p.code).andOnVal('g.live', 1),
      )
      .where({ 'd.id': p.directoryId, 'd.user_id': p.userId, 'd.live': 1 })
      .first(GOODS_COLUMNS.map((c) => `g.${c}`)),
);

/**
 * What is on hand for a scanned code in one of the user's directories, or null. One round trip:
 * the directory row (NOT_FOUND when missing, deleted or another user's) left-joined to the goods.
 */
export async function scanGoods(db: Db, userId: number, directoryId: number, code: string): Promise<Goods | null> {
  const [row] = await selectScan(db, { userId, directoryId, code });
  if (!row) throw notFound('Directory');
  return row.id === null ? null : toGoods({ ...row, id: row.id });
}

// '!' rather than '\': a backslash means different things in MySQL and SQLite string handling.
const LIKE_ESCAPE = '!';

/** A LIKE pattern matching `search` anywhere, with the user's %, _ (and our escape) taken literally. */
export function containsPattern(search: string): string {
  return `%${search.replace(/[!%_]/g, (c) => LIKE_ESCAPE + c)}%`;
}

/**
 * Case-insensitive (as SQLite's LIKE is for ASCII) and otherwise exact. On MySQL the comparison is
 * forced to utf8mb4_bin over lowered text: under utf8mb4_unicode_ci every emoji weighs the same, so
 * a search for 🍎 would find 🍌.
 */
function whereContains(qb: Knex.QueryBuilder, kind: 'mysql' | 'sqlite', column: string, pattern: string): void {
  if (kind === 'mysql') qb.orWhereRaw('LOWER(??) COLLATE utf8mb4_bin LIKE LOWER(?) ESCAPE ?', [column, pattern, LIKE_ESCAPE]);
  else qb.orWhereRaw('?? LIKE ? ESCAPE ?', [column, pattern, LIKE_ESCAPE]);
}

export async function listGoods(
  db: Db,
  userId: number,
  opts: { directoryId: number; search?: string; cursor?: string | null; limit: number },
): Promise<Page<Goods>> {
  await assertDirectory(db, userId, opts.directoryId);
  const query = db('goods').select(GOODS_COLUMNS).where({ directory_id: opts.directoryId, user_id: userId, live: 1 });
  if (opts.search) {
    const pattern = containsPattern(opts.search);
    const kind = dbKind(db);
    query.where((qb) => {
      whereContains(qb, kind, 'name', pattern);
      whereContains(qb, kind, 'code', pattern);
    });
  }
  return fetchPage<GoodsRow, Goods>(query, { idColumn: 'id', cursor: opts.cursor, limit: opts.limit, map: toGoods });
}

async function lockGoodsById(trx: Tx, userId: number, id: number): Promise<GoodsRow> {
  const row = (await forUpdate(trx('goods').select(GOODS_COLUMNS).where({ id, user_id: userId, live: 1 }), trx).first()) as
    | GoodsRow
    | undefined;
  if (!row) throw notFound('Goods');
  return row;
}

async function directoryName(trx: Tx, directoryId: number): Promise<string | null> {
  const row = (await trx('directories').select('name').where({ id: directoryId }).first()) as { name: string } | undefined;
  return row?.name ?? null;
}

export interface GoodsChanges {
  name?: string;
  remarks?: string;
  code?: string;
}

export async function updateGoods(db: Db, userId: number, id: number, changes: GoodsChanges, now: Date): Promise<Goods> {
  return inTransaction(db, async (trx) => {
    const current = await lockGoodsById(trx, userId, id);
    const patch: Record<string, unknown> = { last_active_at: now };
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.remarks !== undefined) patch.remarks = changes.remarks;
    if (changes.code !== undefined) patch.code = changes.code;
    try {
      await trx('goods').where({ id, user_id: userId, live: 1 }).update(patch);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TRPCError({ code: 'CONFLICT', message: 'Another goods in this directory already has that code' });
      }
      throw err;
    }
    await recordHistory(trx, {
      userId,
      type: 'goods.update',
      directoryId: current.directory_id,
      directoryName: await directoryName(trx, current.directory_id),
      goodsId: id,
      goodsName: changes.name ?? current.name,
      createdAt: now,
    });
    return getGoods(trx, userId, id);
  });
}

export async function deleteGoods(db: Db, userId: number, id: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const current = await lockGoodsById(trx, userId, id);
    await trx('goods').where({ id, user_id: userId, live: 1 }).update({ live: null, deleted_at: now });
    await recordHistory(trx, {
      userId,
      type: 'goods.delete',
      directoryId: current.directory_id,
      directoryName: await directoryName(trx, current.directory_id),
      goodsId: id,
      goodsName: current.name,
      createdAt: now,
    });
  });
}
