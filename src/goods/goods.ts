import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import { type Action, type Actor, authorize, joinMembership, notFound } from '../access/access';
import { dbKind, isUniqueViolation, toDate, toNullableNumber, type Db, type Queryable } from '../db/knex';
import { preparedSelect } from '../db/prepared';
import { forUpdate, inTransaction, type Tx } from '../db/tx';
import { fetchPage, type Page } from '../domain/page';
import { authorizeDirectory, lockDirectory } from '../directory/directories';
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
  /** 0–10 characters, '' when none. */
  unit: string;
  /** Fen (1/100 yuan), or null when not priced. */
  price: number | null;
  /** The low-stock threshold: low when quantity <= minQuantity. */
  minQuantity: number | null;
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
  unit: string;
  price: number | null;
  min_quantity: number | null;
}

export const GOODS_COLUMNS = [
  'id',
  'directory_id',
  'code',
  'name',
  'remarks',
  'quantity',
  'created_at',
  'last_active_at',
  'unit',
  'price',
  'min_quantity',
];

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
    unit: row.unit,
    price: toNullableNumber(row.price),
    minQuantity: toNullableNumber(row.min_quantity),
  };
}

const GOODS_COLUMNS_OF_G = GOODS_COLUMNS.map((c) => `g.${c}`);

/**
 * A live goods of a live warehouse the user belongs to, with the role there checked against
 * `action`: NOT_FOUND for anything else. One statement.
 */
async function readGoods(db: Conn, userId: number, id: number, action: Action): Promise<GoodsRow> {
  const row = (await joinMembership(db('goods as g'), userId, 'g.directory_id')
    .join('directories as d', 'd.id', 'g.directory_id')
    .select(GOODS_COLUMNS_OF_G)
    .where({ 'g.id': id, 'g.live': 1, 'd.live': 1 })
    .first()) as (GoodsRow & { role: string }) | undefined;
  authorize(row?.role, action, 'Goods');
  return row as GoodsRow;
}

/**
 * Locks a goods for a change, in the order every stock change takes its locks: its warehouse row
 * with the caller's membership first (lockDirectory checks `action` there), then the goods row.
 */
export async function lockGoodsForChange(
  trx: Tx,
  userId: number,
  id: number,
  action: Action,
): Promise<GoodsRow & { directory_name: string }> {
  const found = (await trx('goods').select('directory_id').where({ id, live: 1 }).first()) as { directory_id: number } | undefined;
  if (!found) throw notFound('Goods');
  const dir = await lockDirectory(trx, userId, Number(found.directory_id), action, 'Goods');
  const row = (await forUpdate(trx('goods').select(GOODS_COLUMNS).where({ id, directory_id: dir.id, live: 1 }), trx).first()) as
    | GoodsRow
    | undefined;
  if (!row) throw notFound('Goods');
  return { ...row, directory_name: dir.name };
}

export async function getGoods(db: Conn, userId: number, id: number): Promise<Goods> {
  return toGoods(await readGoods(db, userId, id, 'read'));
}

/** The scan's one statement, compiled once (src/db/prepared.ts): it runs for every scan. */
const selectScan = preparedSelect<
  { userId: number; directoryId: number; code: string },
  Omit<GoodsRow, 'id'> & { id: number | null; role: string }
>((q, p) =>
  joinMembership(q('directories as d'), p.userId, 'd.id')
    .leftJoin('goods as g', (join) => join.on('g.directory_id', 'd.id').andOnVal('g.code', p.code).andOnVal('g.live', 1))
    .where({ 'd.id': p.directoryId, 'd.live': 1 })
    .first(GOODS_COLUMNS_OF_G),
);

/**
 * What is on hand for a scanned code in a warehouse the user belongs to, or null. One round trip:
 * the warehouse row with the caller's membership (NOT_FOUND when missing, deleted or not theirs)
 * left-joined to the goods.
 */
export async function scanGoods(db: Db, userId: number, directoryId: number, code: string): Promise<Goods | null> {
  const [row] = await selectScan(db, { userId, directoryId, code });
  authorize(row?.role, 'read', 'Directory');
  const { id, ...rest } = row!;
  return id === null ? null : toGoods({ ...rest, id });
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

/**
 * Keeps the goods at or under their threshold. Spelled with `min_quantity IS NOT NULL` so that, after
 * the equality on directory_id, goods_directory_low_stock_index (directory_id, min_quantity,
 * quantity) gives a range over the goods that have a threshold, and the comparison with quantity is
 * tested inside the index: goods without a threshold are never read.
 */
function whereLowStock(query: Knex.QueryBuilder, alias = ''): Knex.QueryBuilder {
  return query.whereNotNull(`${alias}min_quantity`).whereRaw('?? <= ??', [`${alias}quantity`, `${alias}min_quantity`]);
}

export async function listGoods(
  db: Db,
  userId: number,
  opts: { directoryId: number; search?: string; lowStock?: boolean; cursor?: string | null; limit: number },
): Promise<Page<Goods>> {
  await authorizeDirectory(db, userId, opts.directoryId, 'read');
  const query = db('goods').select(GOODS_COLUMNS).where({ directory_id: opts.directoryId, live: 1 });
  if (opts.lowStock) whereLowStock(query);
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

export interface GoodsChanges {
  name?: string;
  remarks?: string;
  code?: string;
  /** '' clears it. */
  unit?: string;
  /** null clears it. */
  price?: number | null;
  minQuantity?: number | null;
}

export async function updateGoods(db: Db, actor: Actor, id: number, changes: GoodsChanges, now: Date): Promise<Goods> {
  return inTransaction(db, async (trx) => {
    const current = await lockGoodsForChange(trx, actor.id, id, 'manage');
    const patch: Record<string, unknown> = { last_active_at: now };
    if (changes.name !== undefined) patch.name = changes.name;
    if (changes.remarks !== undefined) patch.remarks = changes.remarks;
    if (changes.code !== undefined) patch.code = changes.code;
    if (changes.unit !== undefined) patch.unit = changes.unit;
    if (changes.price !== undefined) patch.price = changes.price;
    if (changes.minQuantity !== undefined) patch.min_quantity = changes.minQuantity;
    try {
      await trx('goods').where({ id, live: 1 }).update(patch);
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TRPCError({ code: 'CONFLICT', message: 'Another goods in this directory already has that code' });
      }
      throw err;
    }
    await recordHistory(trx, {
      actor,
      type: 'goods.update',
      directoryId: current.directory_id,
      directoryName: current.directory_name,
      goodsId: id,
      goodsName: changes.name ?? current.name,
      createdAt: now,
    });
    return getGoods(trx, actor.id, id);
  });
}

export async function deleteGoods(db: Db, actor: Actor, id: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const current = await lockGoodsForChange(trx, actor.id, id, 'manage');
    await trx('goods').where({ id, live: 1 }).update({ live: null, deleted_at: now });
    await recordHistory(trx, {
      actor,
      type: 'goods.delete',
      directoryId: current.directory_id,
      directoryName: current.directory_name,
      goodsId: id,
      goodsName: current.name,
      createdAt: now,
    });
  });
}

/** A position in the low-stock order: (quantity − minQuantity, id). */
interface LowStockCursor {
  gap: number;
  id: number;
}

function encodeLowStockCursor(c: LowStockCursor): string {
  return Buffer.from(`low:${c.gap}:${c.id}`, 'utf8').toString('base64url');
}

function decodeLowStockCursor(cursor: string): LowStockCursor {
  const decoded = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^low:(-?\d{1,10}):([1-9]\d{0,15})$/.exec(decoded);
  if (!m) throw new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid cursor: pass nextCursor from the previous page' });
  return { gap: Number(m[1]), id: Number(m[2]) };
}

/**
 * The goods at or under their threshold in every live warehouse the user belongs to, the most short
 * first: ordered by (quantity − min_quantity, id), paged by that pair. The warehouses are read first
 * and given to the goods query as a list of ids: over `directory_id IN (…)` the optimizer can take
 * one range of goods_directory_low_stock_index per warehouse (its goods that have a threshold, the
 * comparison tested inside the index), where a join would reach the goods by directory_id alone and
 * prefer an index that reads every goods of the warehouse. The sort then runs over the low goods.
 */
export async function listLowStock(db: Db, userId: number, opts: { cursor?: string | null; limit: number }): Promise<Page<Goods>> {
  const after = opts.cursor ? decodeLowStockCursor(opts.cursor) : null;
  const directoryIds = (await db('directory_members as m')
    .join('directories as d', 'd.id', 'm.directory_id')
    .where({ 'm.user_id': userId, 'd.live': 1 })
    .pluck('d.id')) as number[];
  if (directoryIds.length === 0) return { items: [], nextCursor: null };
  // quantity is UNSIGNED on MySQL, where an unsigned difference below zero is an error.
  const gapSql = 'CAST(?? AS SIGNED) - ??';
  const cols = ['g.quantity', 'g.min_quantity'];
  const gap = db.raw(gapSql, cols);
  const query = db('goods as g').select(GOODS_COLUMNS_OF_G).select({ gap }).whereIn('g.directory_id', directoryIds).where('g.live', 1);
  whereLowStock(query, 'g.');
  if (after) {
    query.where((w) =>
      w
        .whereRaw(`${gapSql} > ?`, [...cols, after.gap])
        .orWhere((same) => same.whereRaw(`${gapSql} = ?`, [...cols, after.gap]).andWhere('g.id', '>', after.id)),
    );
  }
  const rows = (await query
    .orderByRaw(`${gapSql} asc`, cols)
    .orderBy('g.id', 'asc')
    .limit(opts.limit + 1)) as (GoodsRow & { gap: number | string })[];
  const hasMore = rows.length > opts.limit;
  const page = hasMore ? rows.slice(0, opts.limit) : rows;
  const last = page[page.length - 1];
  return {
    items: page.map(toGoods),
    nextCursor: hasMore && last ? encodeLowStockCursor({ gap: Number(last.gap), id: Number(last.id) }) : null,
  };
}
