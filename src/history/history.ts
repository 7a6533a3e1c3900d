import { toDate, type Db, type Queryable } from '../db/knex';
import { preparedWrite } from '../db/prepared';
import { fetchPage, type Page } from '../domain/page';

export const HISTORY_TYPES = [
  'directory.create',
  'directory.rename',
  'directory.delete',
  'stock.in',
  'stock.out',
  'goods.update',
  'goods.delete',
] as const;
export type HistoryType = (typeof HISTORY_TYPES)[number];

export interface NewHistoryEntry {
  userId: number;
  type: HistoryType;
  directoryId?: number | null;
  directoryName?: string | null;
  goodsId?: number | null;
  goodsName?: string | null;
  delta?: number | null;
  quantityAfter?: number | null;
  createdAt: Date;
}

type LogParams = Required<{ [K in keyof NewHistoryEntry]: Exclude<NewHistoryEntry[K], undefined> }>;

/** Prepared (src/db/prepared.ts): every stock change writes one. */
const insertHistory = preparedWrite<LogParams>((q, p) =>
  q('logs').insert({
    user_id: p.userId,
    type: p.type,
    directory_id: p.directoryId,
    directory_name: p.directoryName,
    goods_id: p.goodsId,
    goods_name: p.goodsName,
    delta: p.delta,
    quantity_after: p.quantityAfter,
    created_at: p.createdAt,
  }),
);

/** Appends one history row; call it inside the transaction of the change it records. */
export async function recordHistory(db: Queryable, entry: NewHistoryEntry): Promise<void> {
  await insertHistory(db, {
    userId: entry.userId,
    type: entry.type,
    directoryId: entry.directoryId ?? null,
    directoryName: entry.directoryName ?? null,
    goodsId: entry.goodsId ?? null,
    goodsName: entry.goodsName ?? null,
    delta: entry.delta ?? null,
    quantityAfter: entry.quantityAfter ?? null,
    createdAt: entry.createdAt,
  });
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
}

interface HistoryRow {
  id: number;
  type: string;
  directory_id: number | null;
  directory_name: string | null;
  goods_id: number | null;
  goods_name: string | null;
  delta: number | null;
  quantity_after: number | null;
  created_at: Date | number;
}

const HISTORY_COLUMNS = ['id', 'type', 'directory_id', 'directory_name', 'goods_id', 'goods_name', 'delta', 'quantity_after', 'created_at'];

const nullableNumber = (v: number | null): number | null => (v === null ? null : Number(v));

export function toHistoryEntry(row: HistoryRow): LogEntry {
  return {
    id: Number(row.id),
    type: row.type as HistoryType,
    directoryId: nullableNumber(row.directory_id),
    directoryName: row.directory_name,
    goodsId: nullableNumber(row.goods_id),
    goodsName: row.goods_name,
    delta: nullableNumber(row.delta),
    quantityAfter: nullableNumber(row.quantity_after),
    createdAt: toDate(row.created_at),
  };
}

export interface HistoryFilter {
  directoryId?: number;
  goodsId?: number;
  type?: HistoryType;
  cursor?: string | null;
  limit: number;
}

/**
 * The user's history, newest first. Filters only ever narrow the user's own rows, so another
 * user's directory or goods id yields an empty page and reveals nothing; deleted directories and
 * goods keep their history.
 */
export async function listHistory(db: Db, userId: number, filter: HistoryFilter): Promise<Page<LogEntry>> {
  const query = db('logs').select(HISTORY_COLUMNS).where({ user_id: userId });
  if (filter.directoryId !== undefined) query.where({ directory_id: filter.directoryId });
  if (filter.goodsId !== undefined) query.where({ goods_id: filter.goodsId });
  if (filter.type !== undefined) query.where({ type: filter.type });
  return fetchPage<HistoryRow, LogEntry>(query, { idColumn: 'id', cursor: filter.cursor, limit: filter.limit, map: toHistoryEntry });
}
