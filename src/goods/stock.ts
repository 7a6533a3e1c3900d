import { TRPCError } from '@trpc/server';
import { isUniqueViolation } from '../db/knex';
import { preparedSelect, preparedWrite } from '../db/prepared';
import { lockDirectory, notFound } from '../directory/directories';
import { firstCodePoints } from '../domain/fields';
import { forUpdate, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';
import { GOODS_COLUMNS, toGoods, type Goods, type GoodsRow } from './goods';

/*
 * Stock changes. Each function runs inside the caller's transaction and takes the locks in one
 * order — the directory row first (its use_count bump), then the goods row — so concurrent stock
 * operations on one directory queue up instead of deadlocking, and two first stock-ins of a new
 * code cannot both insert. Quantities change only through single conditional UPDATEs, so no
 * read-modify-write can lose an update and quantity can never go below zero.
 */

/** Largest quantity on hand: the log's quantity_after is a signed 32-bit column. */
export const MAX_QUANTITY = 2_147_483_647;
/** A new goods is named after the start of its code until the user names it. */
export const DEFAULT_NAME_LENGTH = 16;

export interface StockInInput {
  directoryId: number;
  code: string;
  /** Empty means "keep the current name" (or the default for a new goods). */
  name?: string;
  remarks?: string;
  quantity: number;
}

export interface StockOutInput {
  directoryId: number;
  code: string;
  quantity: number;
}

/*
 * Every statement of a stock change is prepared (src/db/prepared.ts): they run on every scan-in and
 * scan-out, and knex building and running them again each time cost more CPU than the statements.
 */

/**
 * The directory is locked by primary key (lockDirectory) and the UPDATE names the primary key
 * alone: an UPDATE filtered on user_id/live too lets MariaDB go through a secondary index, locking
 * index entries and the row in an order that deadlocks two concurrent stock changes.
 */
const bumpDirectory = preparedWrite<{ directoryId: number; now: Date }>((q, p) =>
  q('directories')
    .where({ id: p.directoryId })
    .update({ use_count: q.raw('?? + 1', ['use_count']), last_active_at: p.now }),
);
const selectGoodsByCodeForUpdate = preparedSelect<{ userId: number; directoryId: number; code: string }, GoodsRow>((q, p) =>
  forUpdate(q('goods').select(GOODS_COLUMNS).where({ directory_id: p.directoryId, code: p.code, user_id: p.userId, live: 1 }), q).first(),
);

type AddParams = {
  id: number;
  quantity: number;
  /** Largest quantity on hand before the addition that keeps it within MAX_QUANTITY. */
  limit: number;
  now: Date;
  name: string;
  remarks: string;
};
/** The conditional UPDATE of a stock-in, with or without a new name and remarks: four statements. */
function addStatement(withName: boolean, withRemarks: boolean) {
  return preparedWrite<AddParams>((q, p) =>
    q('goods')
      .where({ id: p.id })
      .where('quantity', '<=', p.limit)
      .update({
        quantity: q.raw('?? + ?', ['quantity', p.quantity]),
        last_active_at: p.now,
        ...(withName ? { name: p.name } : {}),
        ...(withRemarks ? { remarks: p.remarks } : {}),
      }),
  );
}
const addStatements = [addStatement(false, false), addStatement(true, false), addStatement(false, true), addStatement(true, true)];

const takeQuantity = preparedWrite<{ id: number; quantity: number; now: Date }>((q, p) =>
  q('goods')
    .where({ id: p.id })
    .where('quantity', '>=', p.quantity)
    .update({ quantity: q.raw('?? - ?', ['quantity', p.quantity]), last_active_at: p.now }),
);

/** Locks a live directory of the user and bumps its use_count/last_active_at; NOT_FOUND otherwise. */
async function touchDirectory(trx: Tx, userId: number, directoryId: number, now: Date): Promise<string> {
  const { name } = await lockDirectory(trx, userId, directoryId);
  await bumpDirectory(trx, { directoryId, now });
  return name;
}

async function lockGoodsByCode(trx: Tx, userId: number, directoryId: number, code: string): Promise<GoodsRow | undefined> {
  const [row] = await selectGoodsByCodeForUpdate(trx, { userId, directoryId, code });
  return row;
}

/**
 * Adds to a goods row locked by lockGoodsByCode. The answer is built from the locked row: nobody else can
 * change it before this transaction ends, so reading it back would only cost a round trip.
 */
async function addTo(trx: Tx, row: GoodsRow, input: StockInInput, now: Date): Promise<Goods> {
  const add = addStatements[(input.name ? 1 : 0) + (input.remarks ? 2 : 0)]!;
  const { affectedRows } = await add(trx, {
    id: row.id,
    quantity: input.quantity,
    limit: MAX_QUANTITY - input.quantity,
    now,
    name: input.name ?? '',
    remarks: input.remarks ?? '',
  });
  if (affectedRows === 0) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Quantity on hand cannot exceed ${MAX_QUANTITY}` });
  }
  return toGoods({
    ...row,
    quantity: Number(row.quantity) + input.quantity,
    name: input.name || row.name,
    remarks: input.remarks || row.remarks,
    last_active_at: now,
  });
}

export async function stockIn(trx: Tx, userId: number, input: StockInInput, now: Date): Promise<{ goods: Goods; created: boolean }> {
  const directoryName = await touchDirectory(trx, userId, input.directoryId, now);
  let created = false;
  let goods: Goods;
  const existing = await lockGoodsByCode(trx, userId, input.directoryId, input.code);
  if (existing) {
    goods = await addTo(trx, existing, input, now);
  } else {
    const row = {
      user_id: userId,
      directory_id: input.directoryId,
      code: input.code,
      name: input.name || firstCodePoints(input.code, DEFAULT_NAME_LENGTH),
      remarks: input.remarks ?? '',
      quantity: input.quantity,
      created_at: now,
      last_active_at: now,
    };
    try {
      const [id] = (await trx('goods').insert({ ...row, live: 1 })) as number[];
      if (id === undefined) throw new Error('insert into goods returned no id');
      goods = toGoods({ ...row, id });
      created = true;
    } catch (err) {
      // The directory lock should make this unreachable; if another writer still won the race for
      // the unique key, its row is committed now and this stock-in adds to it instead of failing.
      if (!isUniqueViolation(err)) throw err;
      const winner = await lockGoodsByCode(trx, userId, input.directoryId, input.code);
      if (!winner) throw err;
      goods = await addTo(trx, winner, input, now);
    }
  }
  await recordHistory(trx, {
    userId,
    type: 'stock.in',
    directoryId: input.directoryId,
    directoryName,
    goodsId: goods.id,
    goodsName: goods.name,
    delta: input.quantity,
    quantityAfter: goods.quantity,
    createdAt: now,
  });
  return { goods, created };
}

export async function stockOut(trx: Tx, userId: number, input: StockOutInput, now: Date): Promise<{ goods: Goods }> {
  const directoryName = await touchDirectory(trx, userId, input.directoryId, now);
  const existing = await lockGoodsByCode(trx, userId, input.directoryId, input.code);
  if (!existing) throw notFound('Goods');
  const { affectedRows } = await takeQuantity(trx, { id: existing.id, quantity: input.quantity, now });
  if (affectedRows === 0) {
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: `Not enough stock: ${Number(existing.quantity)} on hand, ${input.quantity} requested`,
    });
  }
  // The row is locked: the answer follows from it without reading it back.
  const goods = toGoods({ ...existing, quantity: Number(existing.quantity) - input.quantity, last_active_at: now });
  await recordHistory(trx, {
    userId,
    type: 'stock.out',
    directoryId: input.directoryId,
    directoryName,
    goodsId: goods.id,
    goodsName: goods.name,
    delta: -input.quantity,
    quantityAfter: goods.quantity,
    createdAt: now,
  });
  return { goods };
}
