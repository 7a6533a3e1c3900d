import { notFound } from '../access/access';
import { toDate, type Db } from '../db/knex';
import { streamRows } from './rows';
import type { CellValue, SheetColumn } from './sheet-writer';

/*
 * The stocktake-lines export (export.create kind 'stocktake').
 *
 * TO WIRE AFTER MERGING ISSUE 14: the stocktake tables are made on another branch. This file is
 * written against API.md's `Stocktake` and `StocktakeLine` and the table names assumed below
 * (`stocktakes`: id, directory_id; `stocktake_lines`: stocktake_id, goods_id, code, expected,
 * counted, counted_at, counted_by); check them against issue 14's migration and adjust the two
 * queries. Until the tables exist every stocktake id is unknown, and the export answers NOT_FOUND,
 * as for any stocktake the caller cannot see (test/files/export.test.ts checks that refusal).
 */

export const STOCKTAKE_COLUMNS: readonly SheetColumn[] = [
  { header: '条码 code', kind: 'text', width: 18 },
  { header: '名称 name', kind: 'text', width: 24 },
  { header: '账面 expected', kind: 'int', width: 12 },
  { header: '实盘 counted', kind: 'int', width: 12 },
  { header: '差异 difference', kind: 'int', width: 12 },
  { header: '盘点时间 countedAt', kind: 'date', width: 20 },
  { header: '盘点人 countedBy', kind: 'int', width: 12 },
];

const hasTables = new WeakMap<Db, Promise<boolean>>();

function stocktakeTablesExist(db: Db): Promise<boolean> {
  let found = hasTables.get(db);
  if (!found) {
    found = Promise.all([db.schema.hasTable('stocktakes'), db.schema.hasTable('stocktake_lines')]).then(([a, b]) => a && b);
    hasTables.set(db, found);
  }
  return found;
}

interface LineRow extends Record<string, unknown> {
  id: number;
  code: string;
  name: string | null;
  expected: number | null;
  counted: number | null;
  counted_at: Date | number | null;
  counted_by: number | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function lineCells(l: LineRow): CellValue[] {
  const expected = num(l.expected) ?? 0;
  const counted = num(l.counted);
  return [
    l.code,
    l.name ?? '',
    expected,
    counted,
    counted === null ? null : counted - expected,
    l.counted_at === null ? null : toDate(l.counted_at),
    num(l.counted_by),
  ];
}

/** The export of one stocktake's lines; NOT_FOUND unless the user is a member of its live warehouse. */
export async function stocktakeExportSource(db: Db, userId: number, stocktakeId: number, dateTag: string) {
  if (!(await stocktakeTablesExist(db))) throw notFound('Stocktake');
  const st = (await db('stocktakes as s')
    .join('directories as d', 'd.id', 's.directory_id')
    .join('directory_members as m', (on) => on.on('m.directory_id', 'd.id').andOnVal('m.user_id', userId))
    .select('s.id', 's.directory_id', 'd.name')
    .where({ 's.id': stocktakeId, 'd.live': 1 })
    .first()) as { id: number; directory_id: number; name: string } | undefined;
  if (!st) throw notFound('Stocktake');
  const directoryId = Number(st.directory_id);
  return {
    sheetName: '盘点 stocktake',
    title: `${st.name.replace(/[\\/:*?"<>|\p{Cc}]/gu, '_')}-盘点${stocktakeId}-${dateTag}`,
    asciiTitle: `stocktake-${stocktakeId}-${dateTag}`,
    columns: STOCKTAKE_COLUMNS,
    async *rows(): AsyncGenerator<readonly CellValue[]> {
      // Every live goods of the warehouse, counted or not: an uncounted line expects what is on hand now.
      const known = () =>
        db('goods as g')
          .leftJoin('stocktake_lines as l', (on) => on.on('l.goods_id', 'g.id').andOnVal('l.stocktake_id', stocktakeId))
          .select(
            'g.id',
            'g.code',
            'g.name',
            db.raw('COALESCE(??, ??) as ??', ['l.expected', 'g.quantity', 'expected']),
            'l.counted',
            'l.counted_at',
            'l.counted_by',
          )
          .where({ 'g.directory_id': directoryId, 'g.live': 1 });
      for await (const l of streamRows<LineRow>(db, known, { idColumn: 'g.id', idKey: 'id', order: 'asc' })) yield lineCells(l);
      // Then the codes counted that the warehouse does not have (created on completion).
      const unknown = () =>
        db('stocktake_lines as l')
          .select(
            'l.id',
            'l.code',
            db.raw('NULL as ??', ['name']),
            db.raw('? as ??', [0, 'expected']),
            'l.counted',
            'l.counted_at',
            'l.counted_by',
          )
          .where('l.stocktake_id', stocktakeId)
          .whereNull('l.goods_id');
      for await (const l of streamRows<LineRow>(db, unknown, { idColumn: 'l.id', idKey: 'id', order: 'asc' })) yield lineCells(l);
    },
  };
}
