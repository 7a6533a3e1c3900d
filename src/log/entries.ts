import { toDate, type Db, type Queryable } from '../db/knex';
import { preparedWrite } from '../db/prepared';
import { fetchPage, type Page } from '../domain/page';

export const LOG_TYPES = [
  'directory.create',
  'directory.rename',
  'directory.delete',
  'stock.in',
  'stock.out',
  'goods.update',
  'goods.delete',
] as const;
export type LogType = (typeof LOG_TYPES)[number];

export interface NewLogEntry {
  userId: number;
  type: LogType;
  directoryId?: number | null;
  directoryName?: string | null;
  goodsId?: number | null;
  goodsName?: string | null;
  delta?: number | null;
  quantityAfter?: number | null;
  createdAt: Date;
}

type LogParams = Required<{ [K in keyof NewLogEntry]: Exclude<NewLogEntry[K], undefined> }>;

/** Prepared (src/db/prepared.ts): every stock change writes one. */
const insertLog = preparedWrite<LogParams>((q, p) =>
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
export async function writeLog(db: Queryable, entry: NewLogEntry): Promise<void> {
  await insertLog(db, {
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
  type: LogType;
  directoryId: number | null;
  directoryName: string | null;
  goodsId: number | null;
  goodsName: string | null;
  delta: number | null;
  quantityAfter: number | null;
  createdAt: Date;
}

interface LogRow {
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

const LOG_COLUMNS = ['id', 'type', 'directory_id', 'directory_name', 'goods_id', 'goods_name', 'delta', 'quantity_after', 'created_at'];

const nullableNumber = (v: number | null): number | null => (v === null ? null : Number(v));

export function toLogEntry(row: LogRow): LogEntry {
  return {
    id: Number(row.id),
    type: row.type as LogType,
    directoryId: nullableNumber(row.directory_id),
    directoryName: row.directory_name,
    goodsId: nullableNumber(row.goods_id),
    goodsName: row.goods_name,
    delta: nullableNumber(row.delta),
    quantityAfter: nullableNumber(row.quantity_after),
    createdAt: toDate(row.created_at),
  };
}

export interface LogFilter {
  directoryId?: number;
  goodsId?: number;
  type?: LogType;
  cursor?: string | null;
  limit: number;
}

/**
 * The user's history, newest first. Filters only ever narrow the user's own rows, so another
 * user's directory or goods id yields an empty page and reveals nothing; deleted directories and
 * goods keep their history.
 */
export async function listLogs(db: Db, userId: number, filter: LogFilter): Promise<Page<LogEntry>> {
  const query = db('logs').select(LOG_COLUMNS).where({ user_id: userId });
  if (filter.directoryId !== undefined) query.where({ directory_id: filter.directoryId });
  if (filter.goodsId !== undefined) query.where({ goods_id: filter.goodsId });
  if (filter.type !== undefined) query.where({ type: filter.type });
  return fetchPage<LogRow, LogEntry>(query, { idColumn: 'id', cursor: filter.cursor, limit: filter.limit, map: toLogEntry });
}
