import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import {
  type Action,
  type Actor,
  authorize,
  joinMembership,
  joinMembershipForUpdate,
  type Missing,
  notFound,
  type Role,
} from '../access/access';
import { dbKind, isUniqueViolation, toDate, type Db, type Queryable } from '../db/knex';
import { preparedSelect } from '../db/prepared';
import { inTransaction, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';

/** A warehouse (仓库) as API.md defines it, seen by one member. */
export interface Directory {
  id: number;
  name: string;
  useCount: number;
  goodsCount: number;
  totalQuantity: number;
  createdAt: Date;
  lastActiveAt: Date;
  role: Role;
  ownerId: number;
  ownerNickname: string | null;
  memberCount: number;
  /** Live goods with a minQuantity whose quantity is at or under it. */
  lowStockCount: number;
  /** Σ quantity × price (fen) over the live goods that have a price. */
  totalValue: number;
}

interface DirectoryRow {
  id: number;
  name: string;
  use_count: number;
  created_at: Date | number;
  last_active_at: Date | number;
  role: Role;
  owner_id: number;
  owner_nickname: string | null;
  goods_count: number | string | null;
  total_quantity: number | string | null;
  member_count: number | string | null;
  low_stock_count: number | string | null;
  total_value: number | string | null;
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
    role: row.role,
    ownerId: Number(row.owner_id),
    ownerNickname: row.owner_nickname,
    memberCount: Number(row.member_count ?? 0),
    lowStockCount: Number(row.low_stock_count ?? 0),
    totalValue: Number(row.total_value ?? 0),
  };
}

/**
 * The live warehouses the user belongs to, each with its figures, in one statement: the goods
 * figures of all of them (count, quantity, low-stock count, value) come from one GROUP BY over
 * their goods, the member counts from another,
 * both limited to the user's warehouses, never one query per warehouse.
 */
function directoriesOf(db: Queryable, userId: number): Knex.QueryBuilder {
  const mine = (q: Knex.QueryBuilder) => q.select('directory_id').from('directory_members').where('user_id', userId);
  const goodsTotals = db('goods')
    .select('directory_id')
    .count({ goods_count: '*' })
    .sum({ total_quantity: 'quantity' })
    .select({
      low_stock_count: db.raw('SUM(CASE WHEN ?? IS NOT NULL AND ?? <= ?? THEN 1 ELSE 0 END)', ['min_quantity', 'quantity', 'min_quantity']),
      // SUM skips the NULL products of goods without a price.
      total_value: db.raw('SUM(?? * ??)', ['quantity', 'price']),
    })
    .where('live', 1)
    .whereIn('directory_id', mine)
    .groupBy('directory_id')
    .as('t');
  const memberCounts = db('directory_members')
    .select('directory_id')
    .count({ member_count: '*' })
    .whereIn('directory_id', mine)
    .groupBy('directory_id')
    .as('mc');
  return joinMembership(db('directories as d'), userId, 'd.id')
    .join('users as o', 'o.id', 'd.user_id')
    .leftJoin(goodsTotals, 't.directory_id', 'd.id')
    .leftJoin(memberCounts, 'mc.directory_id', 'd.id')
    .select(
      'd.id',
      'd.name',
      'd.use_count',
      'd.created_at',
      'd.last_active_at',
      { owner_id: 'd.user_id', owner_nickname: 'o.nickname' },
      't.goods_count',
      't.total_quantity',
      't.low_stock_count',
      't.total_value',
      'mc.member_count',
    )
    .where('d.live', 1);
}

export async function listDirectories(db: Db, userId: number): Promise<Directory[]> {
  const rows = (await directoriesOf(db, userId)
    .orderBy('d.use_count', 'desc')
    .orderBy('d.last_active_at', 'desc')
    .orderBy('d.id', 'desc')) as DirectoryRow[];
  return rows.map(toDirectory);
}

export async function getDirectory(db: Queryable, userId: number, id: number): Promise<Directory> {
  const row = (await directoriesOf(db, userId).where('d.id', id).first()) as DirectoryRow | undefined;
  if (!row) throw notFound('Directory');
  return toDirectory(row);
}

/** The caller's role in a live warehouse, checked against `action`; NOT_FOUND for a non-member. */
export async function authorizeDirectory(db: Queryable, userId: number, directoryId: number, action: Action): Promise<void> {
  const row = await joinMembership(db('directories as d'), userId, 'd.id').where({ 'd.id': directoryId, 'd.live': 1 }).first();
  authorize(row?.role, action, 'Directory');
}

/** Prepared (src/db/prepared.ts): every stock change takes this lock first. */
const selectForUpdate = preparedSelect<{ userId: number; id: number }, { id: number; name: string; role: string }>((q, p) =>
  joinMembershipForUpdate(q('directories as d').select('d.id', 'd.name'), p.userId, 'd.id', dbKind(q))
    .where({ 'd.id': p.id, 'd.live': 1 })
    .first(),
);

export interface LockedDirectory {
  id: number;
  name: string;
  role: Role;
}

/**
 * Locks the live warehouse row (by primary key, on MySQL) and reads the caller's membership with it,
 * then checks that it allows `action`. Any change to a warehouse's members locks the same row
 * first, so a change that commits after a removal or a lowered role sees it: the check holds at
 * commit, not just when the request arrived.
 */
export async function lockDirectory(
  trx: Tx,
  userId: number,
  id: number,
  action: Action,
  missing: Missing = 'Directory',
): Promise<LockedDirectory> {
  const [row] = await selectForUpdate(trx, { userId, id });
  const role = authorize(row?.role, action, missing);
  return { id: Number(row!.id), name: row!.name, role };
}

function duplicateName(name: string): TRPCError {
  return new TRPCError({ code: 'CONFLICT', message: `A directory named "${name}" already exists` });
}

/** Inserts a warehouse owned by `actor`, its owner's membership and its history row. */
export async function insertDirectory(trx: Tx, actor: Actor, name: string, now: Date): Promise<number> {
  let id: number | undefined;
  try {
    [id] = (await trx('directories').insert({
      user_id: actor.id,
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
  await trx('directory_members').insert({ directory_id: id, user_id: actor.id, role: 'owner', joined_at: now });
  await recordHistory(trx, { actor, type: 'directory.create', directoryId: id, directoryName: name, createdAt: now });
  return id;
}

export async function createDirectory(db: Db, actor: Actor, name: string, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => getDirectory(trx, actor.id, await insertDirectory(trx, actor, name, now)));
}

export async function renameDirectory(db: Db, actor: Actor, id: number, name: string, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => {
    await lockDirectory(trx, actor.id, id, 'manage');
    try {
      await trx('directories').where({ id, live: 1 }).update({ name });
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateName(name);
      throw err;
    }
    await recordHistory(trx, { actor, type: 'directory.rename', directoryId: id, directoryName: name, createdAt: now });
    return getDirectory(trx, actor.id, id);
  });
}

/**
 * Soft-deletes the warehouse and its live goods together: `live` NULL frees the name and codes for
 * reuse while the rows (and the history that names their ids) stay. Its members lose it from every
 * list and lookup; its owner keeps its history.
 */
export async function deleteDirectory(db: Db, actor: Actor, id: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, actor.id, id, 'own');
    await trx('goods').where({ directory_id: id, live: 1 }).update({ live: null, deleted_at: now });
    await trx('directories').where({ id, live: 1 }).update({ live: null, deleted_at: now });
    await recordHistory(trx, { actor, type: 'directory.delete', directoryId: id, directoryName: dir.name, createdAt: now });
  });
}
