import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';
import { type Actor, authorize, joinMembership, notFound } from '../access/access';
import { dbKind, isUniqueViolation, toDate, toNullableNumber, type Db, type Queryable } from '../db/knex';
import { forUpdate, inTransaction, type Tx } from '../db/tx';
import { authorizeDirectory, lockDirectory } from '../directory/directories';
import { firstCodePoints } from '../domain/fields';
import { decodeCursor, encodeCursor, fetchPage, type Page } from '../domain/page';
import { DEFAULT_NAME_LENGTH, MAX_QUANTITY } from '../goods/stock';
import { type NewHistoryEntry, recordHistoryBatch } from '../history/history';

/*
 * Stocktakes (盘点, API.md "stocktake"). A stocktake is a set of counted lines, one per scanned code
 * (migrations/20261129020000_stocktakes.ts). Everything that changes a stocktake or reads the goods
 * for it takes the warehouse's row lock first, as stock changes do: a count sees the quantity on
 * hand with no stock change half done, and completing sees every count and every stock change
 * either wholly before it or wholly after it.
 */

export type StocktakeStatus = 'open' | 'applied' | 'cancelled';

export interface Stocktake {
  id: number;
  directoryId: number;
  status: StocktakeStatus;
  note: string | null;
  startedBy: number;
  startedAt: Date;
  finishedAt: Date | null;
  lineCount: number;
  countedCount: number;
}

export interface StocktakeLine {
  goodsId: number | null;
  code: string;
  name: string;
  expected: number;
  counted: number | null;
  difference: number | null;
  countedAt: Date | null;
  countedBy: number | null;
}

interface StocktakeRow {
  id: number;
  directory_id: number;
  status: StocktakeStatus;
  note: string | null;
  started_by: number;
  started_at: Date | number;
  finished_at: Date | number | null;
  line_count: number | string | null;
  counted_count: number | string | null;
}

const STOCKTAKE_COLUMNS = ['id', 'directory_id', 'status', 'note', 'started_by', 'started_at', 'finished_at'].map((c) => `s.${c}`);

type Operand = number | Knex.Raw;

/** A column of an outer query, for a correlated subquery. */
function column(db: Queryable, name: string): Knex.Raw {
  return db.raw('??', [name]);
}

/**
 * The lines of a stocktake whose code is not a live goods of its warehouse (yet): the codes that
 * completing creates. `stocktake` and `directory` are values, or columns of an outer query.
 */
function unknownLines(db: Queryable, stocktake: Operand, directory: Operand): Knex.QueryBuilder {
  return db('stocktake_lines as ul')
    .where('ul.stocktake_id', stocktake)
    .whereNotExists((e) =>
      e
        .select(db.raw('1'))
        .from('goods as ug')
        .where('ug.directory_id', directory)
        .where('ug.code', column(db, 'ul.code'))
        .where('ug.live', 1),
    );
}

/**
 * Stocktakes with their figures. A closed one carries the figures frozen when it closed; an open
 * one counts its lines and the live goods of its warehouse now (at most one per warehouse is open).
 */
function stocktakesWithFigures(db: Queryable): Knex.QueryBuilder {
  const counted = db('stocktake_lines as cl').count('*').where('cl.stocktake_id', column(db, 's.id'));
  const goods = db('goods as lg').count('*').where('lg.directory_id', column(db, 's.directory_id')).where('lg.live', 1);
  const unknown = unknownLines(db, column(db, 's.id'), column(db, 's.directory_id')).count('*');
  return db('stocktakes as s')
    .select(STOCKTAKE_COLUMNS)
    .select({
      counted_count: db.raw('COALESCE(??, (?))', ['s.counted_count', counted]),
      line_count: db.raw('COALESCE(??, (?) + (?))', ['s.line_count', goods, unknown]),
    });
}

function toStocktake(row: StocktakeRow): Stocktake {
  return {
    id: Number(row.id),
    directoryId: Number(row.directory_id),
    status: row.status,
    note: row.note,
    startedBy: Number(row.started_by),
    startedAt: toDate(row.started_at),
    finishedAt: row.finished_at === null ? null : toDate(row.finished_at),
    lineCount: Number(row.line_count ?? 0),
    countedCount: Number(row.counted_count ?? 0),
  };
}

async function readStocktake(db: Queryable, id: number): Promise<Stocktake> {
  const row = (await stocktakesWithFigures(db).where('s.id', id).first()) as StocktakeRow | undefined;
  if (!row) throw notFound('Stocktake');
  return toStocktake(row);
}

/** A stocktake of a live warehouse the user belongs to (any role); NOT_FOUND otherwise. One statement. */
export async function getStocktake(db: Db, userId: number, id: number): Promise<Stocktake> {
  const row = (await joinMembership(stocktakesWithFigures(db), userId, 's.directory_id')
    .join('directories as d', 'd.id', 's.directory_id')
    .where({ 's.id': id, 'd.live': 1 })
    .first()) as (StocktakeRow & { role: string }) | undefined;
  authorize(row?.role, 'read', 'Stocktake');
  return toStocktake(row!);
}

export async function listStocktakes(
  db: Db,
  userId: number,
  opts: { directoryId: number; cursor?: string | null; limit: number },
): Promise<Page<Stocktake>> {
  await authorizeDirectory(db, userId, opts.directoryId, 'read');
  return fetchPage<StocktakeRow, Stocktake>(stocktakesWithFigures(db).where('s.directory_id', opts.directoryId), {
    idColumn: 's.id',
    cursor: opts.cursor,
    limit: opts.limit,
    map: toStocktake,
  });
}

interface LockedStocktake {
  id: number;
  directoryId: number;
  directoryName: string;
  status: StocktakeStatus;
  note: string | null;
}

/**
 * Locks the stocktake's warehouse for `action` (NOT_FOUND for a non-member, FORBIDDEN below the
 * role), then reads the stocktake's state under that lock: every change of state happens under it.
 */
async function lockStocktake(trx: Tx, userId: number, id: number, action: 'stock' | 'manage'): Promise<LockedStocktake> {
  const found = (await trx('stocktakes').select('directory_id').where({ id }).first()) as { directory_id: number } | undefined;
  if (!found) throw notFound('Stocktake');
  const dir = await lockDirectory(trx, userId, Number(found.directory_id), action, 'Stocktake');
  // A locking read: the first read above may have fixed this transaction's snapshot (MySQL's
  // REPEATABLE READ) before the lock was granted, and a plain read would answer from it.
  const row = (await forUpdate(trx('stocktakes').select('status', 'note').where({ id }), trx).first()) as
    | { status: StocktakeStatus; note: string | null }
    | undefined;
  if (!row) throw notFound('Stocktake');
  return { id, directoryId: dir.id, directoryName: dir.name, status: row.status, note: row.note };
}

function notOpen(status: StocktakeStatus): TRPCError {
  return new TRPCError({ code: 'PRECONDITION_FAILED', message: `This stocktake is ${status}, not open` });
}

export async function startStocktake(db: Db, actor: Actor, input: { directoryId: number; note?: string }, now: Date): Promise<Stocktake> {
  return inTransaction(db, async (trx) => {
    await lockDirectory(trx, actor.id, input.directoryId, 'manage');
    let id: number | undefined;
    try {
      [id] = (await trx('stocktakes').insert({
        directory_id: input.directoryId,
        open_directory_id: input.directoryId,
        status: 'open',
        note: input.note || null,
        started_by: actor.id,
        started_at: now,
      })) as number[];
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new TRPCError({ code: 'CONFLICT', message: 'This warehouse already has an open stocktake: complete or cancel it first' });
      }
      throw err;
    }
    if (id === undefined) throw new Error('insert into stocktakes returned no id');
    return readStocktake(trx, id);
  });
}

export interface CountInput {
  stocktakeId: number;
  code: string;
  quantity: number;
  mode: 'add' | 'set';
}

/**
 * Counts a scanned code: `add` adds to its counted number, `set` replaces it. The line is written
 * by one INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE on (stocktake_id, code), so two members
 * scanning the same code at once meet on the unique key and both additions land, whatever else
 * serialises them. Each count records the quantity on hand then as `expected`, read under the
 * warehouse lock, so that completing adds only what was logged after this count.
 */
export async function countStocktake(trx: Tx, actor: Actor, input: CountInput, now: Date): Promise<StocktakeLine> {
  const st = await lockStocktake(trx, actor.id, input.stocktakeId, 'stock');
  if (st.status !== 'open') throw notOpen(st.status);
  const goods = (await forUpdate(
    trx('goods').select('id', 'name', 'quantity').where({ directory_id: st.directoryId, code: input.code, live: 1 }),
    trx,
  ).first()) as { id: number; name: string; quantity: number } | undefined;
  const expected = goods ? Number(goods.quantity) : 0;
  const counted = input.mode === 'add' ? trx.raw('?? + ?', ['counted', input.quantity]) : input.quantity;
  await trx('stocktake_lines')
    .insert({
      stocktake_id: st.id,
      code: input.code,
      counted: input.quantity,
      expected,
      counted_at: now,
      counted_by: actor.id,
    })
    .onConflict(['stocktake_id', 'code'])
    .merge({ counted, expected, counted_at: now, counted_by: actor.id });
  const line = (await trx('stocktake_lines').select('counted').where({ stocktake_id: st.id, code: input.code }).first()) as {
    counted: number;
  };
  const total = Number(line.counted);
  if (total > MAX_QUANTITY) throw new TRPCError({ code: 'BAD_REQUEST', message: `A count cannot exceed ${MAX_QUANTITY}` });
  return {
    goodsId: goods ? Number(goods.id) : null,
    code: input.code,
    name: goods ? goods.name : firstCodePoints(input.code, DEFAULT_NAME_LENGTH),
    expected,
    counted: total,
    difference: total - expected,
    countedAt: now,
    countedBy: actor.id,
  };
}

export type LineFilter = 'all' | 'counted' | 'uncounted' | 'different';

interface LineRow {
  id: number;
  goods_id: number | null;
  code: string;
  name: string | null;
  quantity: number | null;
  counted: number | null;
  expected: number | null;
  counted_at: Date | number | null;
  counted_by: number | null;
}

function toLine(row: LineRow): StocktakeLine {
  const counted = toNullableNumber(row.counted);
  // An uncounted line expects what is on hand now; a counted one what was on hand at its count.
  const expected = counted === null ? Number(row.quantity ?? 0) : Number(row.expected ?? 0);
  return {
    goodsId: toNullableNumber(row.goods_id),
    code: row.code,
    name: row.name ?? firstCodePoints(row.code, DEFAULT_NAME_LENGTH),
    expected,
    counted,
    difference: counted === null ? null : counted - expected,
    countedAt: row.counted_at === null ? null : toDate(row.counted_at),
    countedBy: toNullableNumber(row.counted_by),
  };
}

/*
 * The lines are two lists: every live goods of the warehouse (left-joined to its line, newest goods
 * first), then the counted codes that are no live goods (newest line first). One cursor space
 * serves both: GOODS_PHASE + a goods id is a position in the first list, GOODS_PHASE itself the start
 * of the second, and a line id (always below it) a position in the second.
 */
const GOODS_PHASE = 1_000_000_000_000;

export async function listStocktakeLines(
  db: Db,
  userId: number,
  opts: { id: number; filter: LineFilter; cursor?: string | null; limit: number },
): Promise<Page<StocktakeLine>> {
  const st = await getStocktake(db, userId, opts.id);
  const after = opts.cursor ? decodeCursor(opts.cursor) : null;
  const items: LineRow[] = [];
  let nextCursor: string | null = null;
  if (after === null || after > GOODS_PHASE) {
    const q = db('goods as g')
      .leftJoin('stocktake_lines as l', (on) => on.on('l.code', 'g.code').andOnVal('l.stocktake_id', st.id))
      .select({
        id: 'g.id',
        goods_id: 'g.id',
        code: 'g.code',
        name: 'g.name',
        quantity: 'g.quantity',
        counted: 'l.counted',
        expected: 'l.expected',
        counted_at: 'l.counted_at',
        counted_by: 'l.counted_by',
      })
      .where({ 'g.directory_id': st.directoryId, 'g.live': 1 });
    if (opts.filter === 'counted') q.whereNotNull('l.id');
    if (opts.filter === 'uncounted') q.whereNull('l.id');
    if (opts.filter === 'different') q.whereNotNull('l.id').whereRaw('?? <> ??', ['l.counted', 'l.expected']);
    if (after !== null) q.where('g.id', '<', after - GOODS_PHASE);
    const rows = (await q.orderBy('g.id', 'desc').limit(opts.limit + 1)) as LineRow[];
    if (rows.length > opts.limit) {
      const page = rows.slice(0, opts.limit);
      return { items: page.map(toLine), nextCursor: encodeCursor(GOODS_PHASE + Number(page[page.length - 1]!.id)) };
    }
    items.push(...rows);
  }
  if (opts.filter !== 'uncounted') {
    const q = unknownLines(db, st.id, st.directoryId).select({
      id: 'ul.id',
      goods_id: db.raw('NULL'),
      code: 'ul.code',
      name: db.raw('NULL'),
      quantity: db.raw('NULL'),
      counted: 'ul.counted',
      expected: 'ul.expected',
      counted_at: 'ul.counted_at',
      counted_by: 'ul.counted_by',
    });
    if (opts.filter === 'different') q.whereRaw('?? <> ??', ['ul.counted', 'ul.expected']);
    if (after !== null && after < GOODS_PHASE) q.where('ul.id', '<', after);
    const want = opts.limit - items.length;
    const rows = (await q.orderBy('ul.id', 'desc').limit(want + 1)) as LineRow[];
    if (rows.length > want) {
      const page = rows.slice(0, want);
      items.push(...page);
      const last = page[page.length - 1];
      nextCursor = encodeCursor(last ? Number(last.id) : GOODS_PHASE);
    } else {
      items.push(...rows);
    }
  }
  return { items: items.map(toLine), nextCursor };
}

/** COUNT(*) as a locking read, so that it sees what is committed now, not the transaction's snapshot. */
async function lockedCount(trx: Tx, query: Knex.QueryBuilder): Promise<number> {
  const row = (await forUpdate(query.count({ n: '*' }), trx).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * What a closed stocktake keeps as its figures: its lines, and the live goods plus the counted codes
 * that are no live goods. Creating an unknown code on completion moves it from the second group to
 * the first, so the total is the same before and after.
 */
async function freezeFigures(
  trx: Tx,
  st: LockedStocktake,
  lines: number,
  matched: number,
): Promise<{ line_count: number; counted_count: number }> {
  const goods = await lockedCount(trx, trx('goods').where({ directory_id: st.directoryId, live: 1 }));
  return { line_count: goods + lines - matched, counted_count: lines };
}

export async function cancelStocktake(db: Db, actor: Actor, id: number, now: Date): Promise<Stocktake> {
  return inTransaction(db, async (trx) => {
    const st = await lockStocktake(trx, actor.id, id, 'manage');
    if (st.status !== 'open') throw notOpen(st.status);
    const lines = await lockedCount(trx, trx('stocktake_lines').where({ stocktake_id: id }));
    const matched = await lockedCount(
      trx,
      trx('stocktake_lines as l')
        .join('goods as g', (on) => on.on('g.code', 'l.code').andOnVal('g.directory_id', st.directoryId).andOnVal('g.live', 1))
        .where('l.stocktake_id', id),
    );
    const figures = await freezeFigures(trx, st, lines, matched);
    await trx('stocktakes')
      .where({ id })
      .update({ status: 'cancelled', open_directory_id: null, finished_at: now, ...figures });
    return readStocktake(trx, id);
  });
}

/**
 * Rows per multi-row statement when completing, well under both databases' limits on bound values.
 * knex writes a multi-row INSERT on SQLite as INSERT … SELECT … UNION ALL SELECT …, and SQLite allows
 * at most 500 terms in one compound SELECT.
 */
const UPDATE_CHUNK = 2000;
function insertChunk(q: Queryable): number {
  return dbKind(q) === 'sqlite' ? 500 : 2000;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Sets each goods' quantity in one UPDATE per chunk: quantity = CASE id WHEN … THEN … END. */
async function setQuantities(trx: Tx, changes: readonly { id: number; after: number }[], now: Date): Promise<void> {
  for (const part of chunks(changes, UPDATE_CHUNK)) {
    const cases = part.map(() => 'WHEN ? THEN ?').join(' ');
    await trx('goods')
      .whereIn(
        'id',
        part.map((c) => c.id),
      )
      .update({ quantity: trx.raw(`CASE ?? ${cases} END`, ['id', ...part.flatMap((c) => [c.id, c.after])]), last_active_at: now });
  }
}

interface CompleteLineRow {
  code: string;
  counted: number;
  expected: number;
  goods_id: number | null;
  name: string | null;
  quantity: number | null;
}

/**
 * Applies an open stocktake in the caller's transaction, with a handful of multi-row statements
 * whatever the number of lines: one read of every line with its goods, one UPDATE per chunk of
 * changed quantities, one INSERT per chunk of new goods (and one read of their ids), and the
 * history in multi-row INSERTs.
 *
 * A counted goods gets counted + (quantity now − expected): `expected` was on hand at its last
 * count, so the difference is exactly the net of what was logged since (stock changes all take the
 * warehouse lock this holds), and a sale scanned out after the count is not undone. A quantity that
 * would go below zero (more was taken since the count than was counted) stops at zero. An unknown
 * code counted above zero becomes a goods; one counted zero has nothing to create. With
 * `uncounted: 'zero'` every live goods without a line goes to 0. Each quantity that changes logs one
 * stock.count entry; `adjusted` is their number.
 */
export async function completeStocktake(
  trx: Tx,
  actor: Actor,
  input: { id: number; uncounted: 'keep' | 'zero' },
  now: Date,
): Promise<{ stocktake: Stocktake; adjusted: number }> {
  const st = await lockStocktake(trx, actor.id, input.id, 'manage');
  if (st.status !== 'open') throw notOpen(st.status);
  const lines = (await forUpdate(
    trx('stocktake_lines as l')
      .leftJoin('goods as g', (on) => on.on('g.code', 'l.code').andOnVal('g.directory_id', st.directoryId).andOnVal('g.live', 1))
      .select('l.code', 'l.counted', 'l.expected', { goods_id: 'g.id' }, 'g.name', 'g.quantity')
      .where('l.stocktake_id', st.id),
    trx,
  )) as CompleteLineRow[];

  const changes: { id: number; name: string; before: number; after: number }[] = [];
  const creates: { code: string; quantity: number }[] = [];
  let matched = 0;
  for (const line of lines) {
    const counted = Number(line.counted);
    if (line.goods_id === null) {
      if (counted > 0) creates.push({ code: line.code, quantity: counted });
      continue;
    }
    matched++;
    const before = Number(line.quantity);
    const after = Math.min(MAX_QUANTITY, Math.max(0, counted + before - Number(line.expected)));
    if (after !== before) changes.push({ id: Number(line.goods_id), name: line.name ?? '', before, after });
  }
  if (input.uncounted === 'zero') {
    const uncounted = (await forUpdate(
      trx('goods as g')
        .select('g.id', 'g.name', 'g.quantity')
        .where({ 'g.directory_id': st.directoryId, 'g.live': 1 })
        .where('g.quantity', '>', 0)
        .whereNotExists((e) =>
          e.select(trx.raw('1')).from('stocktake_lines as l').where('l.stocktake_id', st.id).where('l.code', column(trx, 'g.code')),
        ),
      trx,
    )) as { id: number; name: string; quantity: number }[];
    for (const g of uncounted) changes.push({ id: Number(g.id), name: g.name, before: Number(g.quantity), after: 0 });
  }
  const figures = await freezeFigures(trx, st, lines.length, matched);

  await setQuantities(trx, changes, now);
  const created: { id: number; name: string; quantity: number }[] = [];
  for (const part of chunks(creates, insertChunk(trx))) {
    const rows = part.map((c) => ({
      user_id: actor.id,
      directory_id: st.directoryId,
      code: c.code,
      name: firstCodePoints(c.code, DEFAULT_NAME_LENGTH),
      remarks: '',
      quantity: c.quantity,
      created_at: now,
      last_active_at: now,
      unit: '',
      price: null,
      min_quantity: null,
      live: 1,
    }));
    await trx('goods').insert(rows);
    // A multi-row INSERT reports one id; the new rows are found again by their (unique) codes.
    const ids = (await trx('goods')
      .select('id', 'code', 'name', 'quantity')
      .where({ directory_id: st.directoryId, live: 1 })
      .whereIn(
        'code',
        part.map((c) => c.code),
      )) as { id: number; name: string; quantity: number }[];
    created.push(...ids);
  }

  const entry = {
    actor,
    type: 'stock.count' as const,
    directoryId: st.directoryId,
    directoryName: st.directoryName,
    note: st.note,
    createdAt: now,
  };
  const entries: NewHistoryEntry[] = [
    ...changes.map((c) => ({ ...entry, goodsId: c.id, goodsName: c.name, delta: c.after - c.before, quantityAfter: c.after })),
    ...created.map((c) => ({
      ...entry,
      goodsId: Number(c.id),
      goodsName: c.name,
      delta: Number(c.quantity),
      quantityAfter: Number(c.quantity),
    })),
  ];
  await recordHistoryBatch(trx, entries, insertChunk(trx));
  await trx('stocktakes')
    .where({ id: st.id })
    .update({ status: 'applied', open_directory_id: null, finished_at: now, ...figures });
  return { stocktake: await readStocktake(trx, st.id), adjusted: entries.length };
}
