import type { PassThrough } from 'node:stream';
import { stringify } from 'csv-stringify';
import ExcelJS from 'exceljs';
import { neutraliseFormula, wallClock, yuanText } from './cells';

/*
 * One sheet written row by row into `out` (the HTTP response body) as XLSX or CSV, never holding
 * more than a few rows: the rows come from a streaming query and leave as soon as they are written.
 * `addRow` waits whenever `out` is full (a slow phone), so a slow reader slows the query instead of
 * filling memory.
 */

export type ExportFormat = 'xlsx' | 'csv';

/** text: as is (formula-like text neutralised); int: a whole number; yuan: fen shown as yuan; date: wall clock in the export's zone. */
export type ColumnKind = 'text' | 'int' | 'yuan' | 'date';
export interface SheetColumn {
  header: string;
  kind: ColumnKind;
  width: number;
}
export type CellValue = string | number | Date | null;

export interface SheetWriter {
  addRow(cells: readonly CellValue[]): Promise<void>;
  /** Ends the file; `out` ends once the last bytes are written. */
  finish(): Promise<void>;
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  csv: 'text/csv; charset=utf-8',
};

/** How often the writer gives the zip and deflate streams a turn to move rows on. */
const YIELD_EVERY_ROWS = 256;

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Waits until `out` has room again; a body the client stopped reading is closed, not drained, so that ends the wait too. */
function drained(stream: NodeJS.WritableStream & { writableNeedDrain: boolean; destroyed: boolean }): Promise<void> {
  if (!stream.writableNeedDrain || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

export function createSheetWriter(
  format: ExportFormat,
  opts: { out: PassThrough; sheetName: string; columns: readonly SheetColumn[]; timeZone: string },
): SheetWriter {
  const clock = wallClock(opts.timeZone);
  return format === 'xlsx' ? xlsxWriter(opts, clock) : csvWriter(opts, clock);
}

type Clock = ReturnType<typeof wallClock>;

function xlsxWriter(opts: { out: PassThrough; sheetName: string; columns: readonly SheetColumn[] }, clock: Clock): SheetWriter {
  // Shared strings would keep every distinct text of the sheet in memory until the end.
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: opts.out, useStyles: true, useSharedStrings: false });
  const sheet = workbook.addWorksheet(opts.sheetName.slice(0, 31) || 'Sheet1', { views: [{ state: 'frozen', ySplit: 1 }] });
  sheet.columns = opts.columns.map((c) => ({
    header: c.header,
    width: c.width,
    style:
      c.kind === 'yuan'
        ? { numFmt: '0.00' }
        : c.kind === 'date'
          ? { numFmt: 'yyyy-mm-dd hh:mm:ss' }
          : c.kind === 'int'
            ? { numFmt: '0' }
            : {},
  }));
  sheet.getRow(1).font = { bold: true };
  sheet.getRow(1).commit();
  let rows = 0;
  return {
    async addRow(cells) {
      // Text goes in as a string cell, which no spreadsheet evaluates: codes such as 0012345 or
      // 6901234567892 stay text, and "=1+1" stays those characters.
      const values = cells.map((v, i) => {
        if (v === null) return null;
        const kind = opts.columns[i]?.kind;
        if (kind === 'yuan' && typeof v === 'number') return v / 100;
        if (kind === 'date' && v instanceof Date) return clock(v).asUtc;
        return v;
      });
      sheet.addRow(values).commit();
      if (++rows % YIELD_EVERY_ROWS === 0) {
        await yieldTurn();
        await drained(opts.out);
      }
    },
    async finish() {
      sheet.commit();
      await workbook.commit();
    },
  };
}

function csvWriter(opts: { out: PassThrough; columns: readonly SheetColumn[] }, clock: Clock): SheetWriter {
  // UTF-8 with a BOM: without it Excel reads Chinese text as the local code page.
  const csv = stringify({ bom: true, record_delimiter: 'windows' });
  csv.pipe(opts.out);
  // A client that went away destroys `out`; the stringifier would otherwise wait for room forever.
  opts.out.once('close', () => csv.destroy());
  const text = (v: CellValue, kind: ColumnKind | undefined): string => {
    if (v === null) return '';
    if (kind === 'yuan' && typeof v === 'number') return yuanText(v);
    if (v instanceof Date) return clock(v).text;
    if (typeof v === 'number') return String(v);
    return neutraliseFormula(v);
  };
  const write = async (record: string[]) => {
    if (!csv.write(record)) await drained(csv);
  };
  let started = false;
  let rows = 0;
  const header = () => write(opts.columns.map((c) => c.header));
  return {
    async addRow(cells) {
      if (!started) {
        started = true;
        await header();
      }
      await write(cells.map((v, i) => text(v, opts.columns[i]?.kind)));
      if (++rows % YIELD_EVERY_ROWS === 0) await drained(opts.out);
    },
    async finish() {
      if (!started) await header();
      csv.end();
      await new Promise<void>((resolve) => {
        csv.once('end', resolve);
        csv.once('close', resolve);
      });
    },
  };
}
