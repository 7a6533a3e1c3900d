import { TRPCError } from '@trpc/server';
import { isUniqueViolation } from '../db/knex';
import { preparedSelect, preparedWrite } from '../db/prepared';
import { type Actor, notFound } from '../access/access';
import { lockDirectory } from '../directory/directories';
import { firstCodePoints } from '../domain/fields';
import { forUpdate, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';
import { GOODS_COLUMNS, lockGoodsForChange, toGoods, type Goods, type GoodsRow } from './goods';

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
  /** Empty means "keep the current unit". */
  unit?: string;
  /** Fen; undefined keeps the current price. */
  price?: number;
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
const selectGoodsByCodeForUpdate = preparedSelect<{ directoryId: number; code: string }, GoodsRow>((q, p) =>
  forUpdate(q('goods').select(GOODS_COLUMNS).where({ directory_id: p.directoryId, code: p.code, live: 1 }), q).first(),
);

type AddParams = {
  id: number;
  quantity: number;
  /** Largest quantity on hand before the addition that keeps it within MAX_QUANTITY. */
  limit: number;
  now: Date;
  name: string;
  remarks: string;
  unit: string;
  price: number | null;
};
const WITH_NAME = 1;
const WITH_REMARKS = 2;
const WITH_UNIT = 4;
const WITH_PRICE = 8;
/** The conditional UPDATE of a stock-in, one statement per combination of the fields it overwrites. */
function addStatement(fields: number) {
  return preparedWrite<AddParams>((q, p) =>
    q('goods')
      .where({ id: p.id })
      .where('quantity', '<=', p.limit)
      .update({
        quantity: q.raw('?? + ?', ['quantity', p.quantity]),
        last_active_at: p.now,
        ...(fields & WITH_NAME ? { name: p.name } : {}),
        ...(fields & WITH_REMARKS ? { remarks: p.remarks } : {}),
        ...(fields & WITH_UNIT ? { unit: p.unit } : {}),
        ...(fields & WITH_PRICE ? { price: p.price } : {}),
      }),
  );
}
const addStatements = Array.from({ length: 16 }, (_, fields) => addStatement(fields));

const takeQuantity = preparedWrite<{ id: number; quantity: number; now: Date }>((q, p) =>
  q('goods')
    .where({ id: p.id })
    .where('quantity', '>=', p.quantity)
    .update({ quantity: q.raw('?? - ?', ['quantity', p.quantity]), last_active_at: p.now }),
);

/**
 * Locks a live warehouse the user may stock (clerk or above) and bumps its use_count and
 * last_active_at; NOT_FOUND for a non-member, FORBIDDEN for a viewer.
 */
async function touchDirectory(trx: Tx, userId: number, directoryId: number, now: Date): Promise<string> {
  const { name } = await lockDirectory(trx, userId, directoryId, 'stock');
  await bumpDirectory(trx, { directoryId, now });
  return name;
}

async function lockGoodsByCode(trx: Tx, directoryId: number, code: string): Promise<GoodsRow | undefined> {
  const [row] = await selectGoodsByCodeForUpdate(trx, { directoryId, code });
  return row;
}

/**
 * Adds to a goods row locked by lockGoodsByCode. The answer is built from the locked row: nobody else can
 * change it before this transaction ends, so reading it back would only cost a round trip.
 */
async function addTo(trx: Tx, row: GoodsRow, input: StockInInput, now: Date): Promise<Goods> {
  const fields =
    (input.name ? WITH_NAME : 0) |
    (input.remarks ? WITH_REMARKS : 0) |
    (input.unit ? WITH_UNIT : 0) |
    (input.price !== undefined ? WITH_PRICE : 0);
  const { affectedRows } = await addStatements[fields]!(trx, {
    id: row.id,
    quantity: input.quantity,
    limit: MAX_QUANTITY - input.quantity,
    now,
    name: input.name ?? '',
    remarks: input.remarks ?? '',
    unit: input.unit ?? '',
    price: input.price ?? null,
  });
  if (affectedRows === 0) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: `Quantity on hand cannot exceed ${MAX_QUANTITY}` });
  }
  return toGoods({
    ...row,
    quantity: Number(row.quantity) + input.quantity,
    name: input.name || row.name,
    remarks: input.remarks || row.remarks,
    unit: input.unit || row.unit,
    price: input.price !== undefined ? input.price : row.price,
    last_active_at: now,
  });
}

export async function stockIn(trx: Tx, actor: Actor, input: StockInInput, now: Date): Promise<{ goods: Goods; created: boolean }> {
  const directoryName = await touchDirectory(trx, actor.id, input.directoryId, now);
  let created = false;
  let goods: Goods;
  const existing = await lockGoodsByCode(trx, input.directoryId, input.code);
  if (existing) {
    goods = await addTo(trx, existing, input, now);
  } else {
    const row = {
      user_id: actor.id,
      directory_id: input.directoryId,
      code: input.code,
      name: input.name || firstCodePoints(input.code, DEFAULT_NAME_LENGTH),
      remarks: input.remarks ?? '',
      quantity: input.quantity,
      created_at: now,
      last_active_at: now,
      unit: input.unit ?? '',
      price: input.price ?? null,
      min_quantity: null,
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
      const winner = await lockGoodsByCode(trx, input.directoryId, input.code);
      if (!winner) throw err;
      goods = await addTo(trx, winner, input, now);
    }
  }
  await recordHistory(trx, {
    actor,
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

export async function stockOut(trx: Tx, actor: Actor, input: StockOutInput, now: Date): Promise<{ goods: Goods }> {
  const directoryName = await touchDirectory(trx, actor.id, input.directoryId, now);
  const existing = await lockGoodsByCode(trx, input.directoryId, input.code);
  if (!existing) throw notFound('Goods');
  const { affectedRows } = await takeQuantity(trx, { id: existing.id, quantity: input.quantity, now });
  if (affectedRows === 0) throw notEnough(Number(existing.quantity), input.quantity);
  // The row is locked: the answer follows from it without reading it back.
  const goods = toGoods({ ...existing, quantity: Number(existing.quantity) - input.quantity, last_active_at: now });
  await recordHistory(trx, {
    actor,
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

function notEnough(onHand: number, requested: number): TRPCError {
  return new TRPCError({ code: 'PRECONDITION_FAILED', message: `Not enough stock: ${onHand} on hand, ${requested} requested` });
}

export interface AdjustInput {
  id: number;
  quantity: number;
  reason: string;
}

/**
 * Sets the quantity on hand (a breakage, a correction) and logs stock.adjust with the delta and the
 * reason as its note. An adjustment to the quantity already on hand changes nothing and logs
 * nothing: the history holds one entry per change of a quantity, and this is none.
 */
export async function adjustGoods(trx: Tx, actor: Actor, input: AdjustInput, now: Date): Promise<{ goods: Goods }> {
  const current = await lockGoodsForChange(trx, actor.id, input.id, 'manage');
  const before = Number(current.quantity);
  if (before === input.quantity) return { goods: toGoods(current) };
  // The row is locked (lockGoodsForChange): nothing changes it between the read and this write.
  await trx('goods').where({ id: current.id }).update({ quantity: input.quantity, last_active_at: now });
  const goods = toGoods({ ...current, quantity: input.quantity, last_active_at: now });
  await recordHistory(trx, {
    actor,
    type: 'stock.adjust',
    directoryId: current.directory_id,
    directoryName: current.directory_name,
    goodsId: goods.id,
    goodsName: goods.name,
    delta: input.quantity - before,
    quantityAfter: input.quantity,
    note: input.reason,
    createdAt: now,
  });
  return { goods };
}

export interface TransferInput {
  fromDirectoryId: number;
  toDirectoryId: number;
  code: string;
  quantity: number;
}

/**
 * Moves stock between two warehouses in the caller's transaction. Both warehouse rows are locked
 * first, the lower id before the higher, whichever way the goods move: two transfers A→B and B→A
 * then queue on the same first lock instead of each holding one and waiting for the other. Every
 * other change of these goods takes its warehouse's lock before the goods row, so once both are
 * held the goods rows are free to lock. The caller must be clerk or above in both.
 */
export async function transferGoods(
  trx: Tx,
  actor: Actor,
  input: TransferInput,
  now: Date,
): Promise<{ from: Goods; to: Goods; created: boolean }> {
  if (input.fromDirectoryId === input.toDirectoryId) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'A transfer needs two different warehouses' });
  }
  const [low, high] = [input.fromDirectoryId, input.toDirectoryId].sort((a, b) => a - b) as [number, number];
  const lowDir = await lockDirectory(trx, actor.id, low, 'stock');
  const highDir = await lockDirectory(trx, actor.id, high, 'stock');
  const [fromDir, toDir] = lowDir.id === input.fromDirectoryId ? [lowDir, highDir] : [highDir, lowDir];

  const source = await lockGoodsByCode(trx, fromDir.id, input.code);
  if (!source) throw notFound('Goods');
  const { affectedRows } = await takeQuantity(trx, { id: source.id, quantity: input.quantity, now });
  if (affectedRows === 0) throw notEnough(Number(source.quantity), input.quantity);
  const from = toGoods({ ...source, quantity: Number(source.quantity) - input.quantity, last_active_at: now });

  let to: Goods;
  let created = false;
  const target = await lockGoodsByCode(trx, toDir.id, input.code);
  if (target) {
    to = await addTo(trx, target, { directoryId: toDir.id, code: input.code, quantity: input.quantity }, now);
  } else {
    const row = {
      user_id: actor.id,
      directory_id: toDir.id,
      code: source.code,
      name: source.name,
      remarks: source.remarks,
      quantity: input.quantity,
      created_at: now,
      last_active_at: now,
      unit: source.unit,
      price: source.price,
      min_quantity: null,
    };
    const [id] = (await trx('goods').insert({ ...row, live: 1 })) as number[];
    if (id === undefined) throw new Error('insert into goods returned no id');
    to = toGoods({ ...row, id });
    created = true;
  }
  await bumpDirectory(trx, { directoryId: low, now });
  await bumpDirectory(trx, { directoryId: high, now });
  const entry = { actor, delta: input.quantity, createdAt: now };
  await recordHistory(trx, {
    ...entry,
    type: 'transfer.out',
    directoryId: fromDir.id,
    directoryName: fromDir.name,
    goodsId: from.id,
    goodsName: from.name,
    delta: -input.quantity,
    quantityAfter: from.quantity,
    counterpartDirectoryId: toDir.id,
    counterpartDirectoryName: toDir.name,
  });
  await recordHistory(trx, {
    ...entry,
    type: 'transfer.in',
    directoryId: toDir.id,
    directoryName: toDir.name,
    goodsId: to.id,
    goodsName: to.name,
    quantityAfter: to.quantity,
    counterpartDirectoryId: fromDir.id,
    counterpartDirectoryName: fromDir.name,
  });
  return { from, to, created };
}
