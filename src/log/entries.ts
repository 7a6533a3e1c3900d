import type { Knex } from 'knex';
import type { Db } from '../db/knex';

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

/** Appends one history row; call it inside the transaction of the change it records. */
export async function writeLog(db: Db | Knex.Transaction, entry: NewLogEntry): Promise<void> {
  await db('logs').insert({
    user_id: entry.userId,
    type: entry.type,
    directory_id: entry.directoryId ?? null,
    directory_name: entry.directoryName ?? null,
    goods_id: entry.goodsId ?? null,
    goods_name: entry.goodsName ?? null,
    delta: entry.delta ?? null,
    quantity_after: entry.quantityAfter ?? null,
    created_at: entry.createdAt,
  });
}
