import { authorize, joinMembership } from '../access/access';
import { toDate, toNullableNumber, type Db } from '../db/knex';
import { safeFileName } from './cells';
import { streamRows } from './rows';
import type { CellValue, SheetColumn } from './sheet-writer';

/*
 * The stocktake-lines export (export.create kind 'stocktake'): the lines stocktake.lines lists, every
 * live goods of the warehouse (counted or not) and every counted code the warehouse does not have.
 * Lines are keyed by code (migrations/20261129020000_stocktakes.ts), so goods and lines meet on it.
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

interface LineRow extends Record<string, unknown> {
  id: number;
  code: string;
  name: string | null;
  expected: number | null;
  counted: number | null;
  counted_at: Date | number | null;
  counted_by: number | null;
}

function lineCells(l: LineRow): CellValue[] {
  const expected = toNullableNumber(l.expected) ?? 0;
  const counted = toNullableNumber(l.counted);
  return [
    l.code,
    l.name ?? '',
    expected,
    counted,
    counted === null ? null : counted - expected,
    l.counted_at === null ? null : toDate(l.counted_at),
    toNullableNumber(l.counted_by),
  ];
}

/** The export of one stocktake's lines; NOT_FOUND unless the user is a member of its live warehouse. */
export async function stocktakeExportSource(db: Db, userId: number, stocktakeId: number, dateTag: string) {
  const st = (await joinMembership(db('stocktakes as s').join('directories as d', 'd.id', 's.directory_id'), userId, 'd.id')
    .select('s.id', 's.directory_id', 'd.name')
    .where({ 's.id': stocktakeId, 'd.live': 1 })
    .first()) as { role: string; id: number; directory_id: number; name: string } | undefined;
  authorize(st?.role, 'read', 'Stocktake');
  const directoryId = Number(st!.directory_id);
  return {
    sheetName: '盘点 stocktake',
    title: `${safeFileName(st!.name)}-盘点${stocktakeId}-${dateTag}`,
    asciiTitle: `stocktake-${stocktakeId}-${dateTag}`,
    columns: STOCKTAKE_COLUMNS,
    async *rows(): AsyncGenerator<readonly CellValue[]> {
      // Every live goods of the warehouse, counted or not: an uncounted line expects what is on hand now.
      const known = () =>
        db('goods as g')
          .leftJoin('stocktake_lines as l', (on) => on.on('l.code', 'g.code').andOnVal('l.stocktake_id', stocktakeId))
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
          .whereNotExists((q) =>
            q
              .select(db.raw('1'))
              .from('goods as g')
              .where({ 'g.directory_id': directoryId, 'g.live': 1 })
              .whereRaw('?? = ??', ['g.code', 'l.code']),
          );
      for await (const l of streamRows<LineRow>(db, unknown, { idColumn: 'l.id', idKey: 'id', order: 'asc' })) yield lineCells(l);
    },
  };
}
