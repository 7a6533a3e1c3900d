import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import { isUniqueViolation, toDate, type Db, type Queryable } from '../db/knex';
import { preparedSelect } from '../db/prepared';
import { forUpdate, inTransaction, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';

/** A warehouse (仓库) as API.md defines it. */
export interface Directory {
  id: number;
  name: string;
  useCount: number;
  goodsCount: number;
  totalQuantity: number;
  createdAt: Date;
  lastActiveAt: Date;
}

interface DirectoryRow {
  id: number;
  name: string;
  use_count: number;
  created_at: Date | number;
  last_active_at: Date | number;
  goods_count: number | string | null;
  total_quantity: number | string | null;
}

type Conn = Queryable;

export function notFound(what: 'Directory' | 'Goods'): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: `${what} not found` });
}

function toDirectory(row: DirectoryRow): Directory {
  return {
    id: Number(row.id),
    name: row.name,
    useCount: Number(row.use_count),
    goodsCount: Number(row.goods_count ?? 0),
    totalQuantity: Number(row.total_quantity ?? 0),
    createdAt: toDate(row.created_at),
    lastActiveAt: toDate(row.last_active_at),
  };
}

/**
 * The user's live directories joined with one aggregate over their live goods: the counts of
 * every directory come from a single GROUP BY, never one query per directory.
 */
function directoriesWithTotals(db: Conn, userId: number): Knex.QueryBuilder {
  const totals = db('goods')
    .select('directory_id')
    .count({ goods_count: '*' })
    .sum({ total_quantity: 'quantity' })
    .where({ user_id: userId, live: 1 })
    .groupBy('directory_id')
    .as('t');
  return db('directories as d')
    .leftJoin(totals, 't.directory_id', 'd.id')
    .select('d.id', 'd.name', 'd.use_count', 'd.created_at', 'd.last_active_at', 't.goods_count', 't.total_quantity')
    .where({ 'd.user_id': userId, 'd.live': 1 });
}

export async function listDirectories(db: Db, userId: number): Promise<Directory[]> {
  const rows = (await directoriesWithTotals(db, userId)
    .orderBy('d.use_count', 'desc')
    .orderBy('d.last_active_at', 'desc')
    .orderBy('d.id', 'desc')) as DirectoryRow[];
  return rows.map(toDirectory);
}

export async function getDirectory(db: Conn, userId: number, id: number): Promise<Directory> {
  const totals = db('goods')
    .select('directory_id')
    .count({ goods_count: '*' })
    .sum({ total_quantity: 'quantity' })
    .where({ user_id: userId, directory_id: id, live: 1 })
    .groupBy('directory_id')
    .as('t');
  const row = (await db('directories as d')
    .leftJoin(totals, 't.directory_id', 'd.id')
    .select('d.id', 'd.name', 'd.use_count', 'd.created_at', 'd.last_active_at', 't.goods_count', 't.total_quantity')
    .where({ 'd.id': id, 'd.user_id': userId, 'd.live': 1 })
    .first()) as DirectoryRow | undefined;
  if (!row) throw notFound('Directory');
  return toDirectory(row);
}

/** Prepared (src/db/prepared.ts): every stock change takes this lock first. */
const selectForUpdate = preparedSelect<{ userId: number; id: number }, { id: number; name: string }>((q, p) =>
  forUpdate(q('directories').select('id', 'name').where({ id: p.id, user_id: p.userId, live: 1 }), q).first(),
);

/**
 * The live directory row (id, name) of this user, locked for the transaction on MySQL; NOT_FOUND
 * otherwise. A primary-key SELECT … FOR UPDATE, so that a following UPDATE by primary key takes no
 * other lock (see touchDirectory in src/goods/stock.ts).
 */
export async function lockDirectory(trx: Tx, userId: number, id: number): Promise<{ id: number; name: string }> {
  const [row] = await selectForUpdate(trx, { userId, id });
  if (!row) throw notFound('Directory');
  return { id: Number(row.id), name: row.name };
}

function duplicateName(name: string): TRPCError {
  return new TRPCError({ code: 'CONFLICT', message: `A directory named "${name}" already exists` });
}

export async function createDirectory(db: Db, userId: number, name: string, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => {
    let id: number | undefined;
    try {
      [id] = (await trx('directories').insert({
        user_id: userId,
        name,
        use_count: 0,
        created_at: now,
        last_active_at: now,
        live: 1,
      })) as number[];
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateName(name);
      throw err;
    }
    if (id === undefined) throw new Error('insert into directories returned no id');
    await recordHistory(trx, { userId, type: 'directory.create', directoryId: id, directoryName: name, createdAt: now });
    return getDirectory(trx, userId, id);
  });
}

export async function renameDirectory(db: Db, userId: number, id: number, name: string, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => {
    await lockDirectory(trx, userId, id);
    try {
      await trx('directories').where({ id, user_id: userId, live: 1 }).update({ name });
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateName(name);
      throw err;
    }
    await recordHistory(trx, { userId, type: 'directory.rename', directoryId: id, directoryName: name, createdAt: now });
    return getDirectory(trx, userId, id);
  });
}

/**
 * Soft-deletes the directory and its live goods together: `live` NULL frees the name and codes for
 * reuse while the rows (and the history that names their ids) stay.
 */
export async function deleteDirectory(db: Db, userId: number, id: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, userId, id);
    await trx('goods').where({ directory_id: id, user_id: userId, live: 1 }).update({ live: null, deleted_at: now });
    await trx('directories').where({ id, user_id: userId, live: 1 }).update({ live: null, deleted_at: now });
    await recordHistory(trx, { userId, type: 'directory.delete', directoryId: id, directoryName: dir.name, createdAt: now });
  });
}
