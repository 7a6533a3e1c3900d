import type { Knex } from 'knex';
import type { Actor } from '../access/access';
import { toDate, toNullableNumber, type Db, type Queryable } from '../db/knex';
import { preparedWrite } from '../db/prepared';
import { fetchPage, type Page } from '../domain/page';

/*
 * The stock history (日志, the API's `log`): one row per change, written in the transaction of the
 * change it records. Rows carry snapshots (warehouse and goods names, the actor's nickname) and no
 * foreign keys, so history outlives what it talks about. `logs.user_id` is the actor.
 */

export const HISTORY_TYPES = [
  'directory.create',
  'directory.rename',
  'directory.delete',
  'stock.in',
  'stock.out',
  'goods.update',
  'goods.delete',
  'stock.adjust',
  'stock.count',
  'stock.import',
  'transfer.out',
  'transfer.in',
  'member.join',
  'member.role',
  'member.remove',
  'member.leave',
  'member.owner',
] as const;
export type HistoryType = (typeof HISTORY_TYPES)[number];

export interface NewHistoryEntry {
  actor: Actor;
  type: HistoryType;
  directoryId?: number | null;
  directoryName?: string | null;
  goodsId?: number | null;
  goodsName?: string | null;
  delta?: number | null;
  quantityAfter?: number | null;
  note?: string | null;
  counterpartDirectoryId?: number | null;
  counterpartDirectoryName?: string | null;
  targetUserId?: number | null;
  createdAt: Date;
}

type HistoryParams = {
  userId: number;
  actorName: string | null;
  type: HistoryType;
  directoryId: number | null;
  directoryName: string | null;
  goodsId: number | null;
  goodsName: string | null;
  delta: number | null;
  quantityAfter: number | null;
  note: string | null;
  counterpartDirectoryId: number | null;
  counterpartDirectoryName: string | null;
  targetUserId: number | null;
  createdAt: Date;
};

/** The logs row of an entry's parameters; also maps the placeholders of the prepared INSERT. */
function historyColumns<P extends { [K in keyof HistoryParams]: unknown }>(p: P) {
  return {
    user_id: p.userId,
    actor_name: p.actorName,
    type: p.type,
    directory_id: p.directoryId,
    directory_name: p.directoryName,
    goods_id: p.goodsId,
    goods_name: p.goodsName,
    delta: p.delta,
    quantity_after: p.quantityAfter,
    note: p.note,
    counterpart_directory_id: p.counterpartDirectoryId,
    counterpart_directory_name: p.counterpartDirectoryName,
    target_user_id: p.targetUserId,
    created_at: p.createdAt,
  };
}

/** Prepared (src/db/prepared.ts): every stock change writes one. */
const insertHistory = preparedWrite<HistoryParams>((q, p) => q('logs').insert(historyColumns(p)));

function historyParams(entry: NewHistoryEntry): HistoryParams {
  return {
    userId: entry.actor.id,
    actorName: entry.actor.nickname,
    type: entry.type,
    directoryId: entry.directoryId ?? null,
    directoryName: entry.directoryName ?? null,
    goodsId: entry.goodsId ?? null,
    goodsName: entry.goodsName ?? null,
    delta: entry.delta ?? null,
    quantityAfter: entry.quantityAfter ?? null,
    note: entry.note ?? null,
    counterpartDirectoryId: entry.counterpartDirectoryId ?? null,
    counterpartDirectoryName: entry.counterpartDirectoryName ?? null,
    targetUserId: entry.targetUserId ?? null,
    createdAt: entry.createdAt,
  };
}

/** Appends one history row; call it inside the transaction of the change it records. */
export async function recordHistory(db: Queryable, entry: NewHistoryEntry): Promise<void> {
  await insertHistory(db, historyParams(entry));
}

/** Appends many rows in one multi-row INSERT: for changes that touch many goods at once. */
export async function recordHistoryBatch(db: Queryable, entries: readonly NewHistoryEntry[], chunkSize = 500): Promise<void> {
  for (let i = 0; i < entries.length; i += chunkSize) {
    const rows = entries.slice(i, i + chunkSize).map((entry) => historyColumns(historyParams(entry)));
    await db('logs').insert(rows);
  }
}

/** A history row as API.md defines it (`LogEntry`). */
export interface LogEntry {
  id: number;
  type: HistoryType;
  directoryId: number | null;
  directoryName: string | null;
  goodsId: number | null;
  goodsName: string | null;
  delta: number | null;
  quantityAfter: number | null;
  createdAt: Date;
  actorId: number;
  actorName: string | null;
  note: string | null;
  counterpartDirectoryId: number | null;
  counterpartDirectoryName: string | null;
  targetUserId: number | null;
}

interface HistoryRow {
  id: number;
  type: string;
  user_id: number;
  actor_name: string | null;
  directory_id: number | null;
  directory_name: string | null;
  goods_id: number | null;
  goods_name: string | null;
  delta: number | null;
  quantity_after: number | null;
  note: string | null;
  counterpart_directory_id: number | null;
  counterpart_directory_name: string | null;
  target_user_id: number | null;
  created_at: Date | number;
}

const HISTORY_COLUMNS = [
  'id',
  'type',
  'user_id',
  'actor_name',
  'directory_id',
  'directory_name',
  'goods_id',
  'goods_name',
  'delta',
  'quantity_after',
  'note',
  'counterpart_directory_id',
  'counterpart_directory_name',
  'target_user_id',
  'created_at',
].map((c) => `l.${c}`);

export function toHistoryEntry(row: HistoryRow): LogEntry {
  return {
    id: Number(row.id),
    type: row.type as HistoryType,
    directoryId: toNullableNumber(row.directory_id),
    directoryName: row.directory_name,
    goodsId: toNullableNumber(row.goods_id),
    goodsName: row.goods_name,
    delta: toNullableNumber(row.delta),
    quantityAfter: toNullableNumber(row.quantity_after),
    createdAt: toDate(row.created_at),
    actorId: Number(row.user_id),
    actorName: row.actor_name,
    note: row.note,
    counterpartDirectoryId: toNullableNumber(row.counterpart_directory_id),
    counterpartDirectoryName: row.counterpart_directory_name,
    targetUserId: toNullableNumber(row.target_user_id),
  };
}

export interface HistoryFilter {
  directoryId?: number;
  goodsId?: number;
  type?: HistoryType;
  actorId?: number;
  /** Only entries at or after `from` and before `to`. */
  from?: Date;
  to?: Date;
}

/**
 * Every history row the user may see, filtered: the entries of each warehouse they are a member of
 * (of a deleted warehouse: its owner only), and their own entries that belong to no warehouse.
 * Filters only narrow that set, so another team's ids yield nothing and reveal nothing.
 */
export function visibleHistory(db: Queryable, userId: number, filter: HistoryFilter): Knex.QueryBuilder {
  const query = db('logs as l').select(HISTORY_COLUMNS);
  const ofMyWarehouses = (q: Knex.QueryBuilder) =>
    q
      .select('m.directory_id')
      .from('directory_members as m')
      .join('directories as d', 'd.id', 'm.directory_id')
      .where('m.user_id', userId)
      .where((w) => w.where('d.live', 1).orWhere('d.user_id', userId));
  if (filter.directoryId !== undefined) {
    // One warehouse: served by the (directory_id, id) index, after one membership check.
    query.where('l.directory_id', filter.directoryId).whereIn('l.directory_id', ofMyWarehouses);
  } else {
    query.where((w) =>
      w.whereIn('l.directory_id', ofMyWarehouses).orWhere((own) => own.whereNull('l.directory_id').andWhere('l.user_id', userId)),
    );
  }
  if (filter.goodsId !== undefined) query.where('l.goods_id', filter.goodsId);
  if (filter.type !== undefined) query.where('l.type', filter.type);
  if (filter.actorId !== undefined) query.where('l.user_id', filter.actorId);
  if (filter.from !== undefined) query.where('l.created_at', '>=', filter.from);
  if (filter.to !== undefined) query.where('l.created_at', '<', filter.to);
  return query;
}

/** One page of visibleHistory, newest first. */
export async function listHistory(
  db: Db,
  userId: number,
  filter: HistoryFilter & { cursor?: string | null; limit: number },
): Promise<Page<LogEntry>> {
  return fetchPage<HistoryRow, LogEntry>(visibleHistory(db, userId, filter), {
    idColumn: 'l.id',
    cursor: filter.cursor,
    limit: filter.limit,
    map: toHistoryEntry,
  });
}
