import type { Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import * as yauzl from 'yauzl';
import { columnOfHeader, type GoodsColumn } from './cells';

/*
 * Reading an uploaded file into rows of cells, refusing hostile files before they cost anything:
 * the upload itself is at most 5 MB (enforced while it streams in, src/files/routes.ts); an XLSX is
 * a zip, and its entries' sizes are checked (declared and actual, by yauzl) against 50 MB before
 * exceljs decompresses anything, and its sheets' rows are counted in the raw XML, so that exceljs
 * never builds a workbook of a million rows; a CSV is parsed up to one row past the limit.
 */

export const MAX_IMPORT_BYTES = 5 * 1024 * 1024;
export const MAX_IMPORT_ROWS = 20_000;
export const MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024;

/** A file refused with a status and a message for the person who sent it. */
export class FileRefusal extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export type CellRead = string | number | null;

export interface SheetRow {
  /** The sheet's row number (1 = the first row). */
  row: number;
  cells: CellRead[];
}

export interface ReadSheet {
  format: 'xlsx' | 'csv';
  /** The column of each known field, by its index in `cells`. */
  columns: Partial<Record<GoodsColumn, number>>;
  /** The header's text of each found column, to name it in messages. */
  headers: Partial<Record<GoodsColumn, string>>;
  /** Data rows after the header, blank rows left out. */
  rows: SheetRow[];
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const OLE_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0]);

function tooManyRows(): FileRefusal {
  return new FileRefusal(413, `The file has more than ${MAX_IMPORT_ROWS} rows: split it into smaller files`);
}

function notASpreadsheet(detail: string): FileRefusal {
  return new FileRefusal(415, `Not a readable spreadsheet (${detail}): send an .xlsx or a .csv file`);
}

export async function readSpreadsheet(file: Buffer, filename: string): Promise<ReadSheet> {
  const ext = /\.([^.]+)$/.exec(filename)?.[1]?.toLowerCase();
  if (file.length >= 4 && file.subarray(0, 4).equals(ZIP_MAGIC)) return findColumns('xlsx', await readXlsx(file));
  if (file.length >= 4 && file.subarray(0, 4).equals(OLE_MAGIC)) throw notASpreadsheet('an old .xls workbook; save it as .xlsx');
  if (ext === 'xlsx') throw notASpreadsheet('the .xlsx file is not a zip archive');
  return findColumns('csv', readCsv(file));
}

/** Finds the header (the first row that is not blank) and the columns it names. */
function findColumns(format: 'xlsx' | 'csv', rows: SheetRow[]): ReadSheet {
  const nonBlank = rows.filter((r) => r.cells.some((c) => c !== null && String(c).trim() !== ''));
  const [header, ...data] = nonBlank;
  const columns: ReadSheet['columns'] = {};
  const headers: ReadSheet['headers'] = {};
  header?.cells.forEach((cell, index) => {
    const column = cell === null ? null : columnOfHeader(String(cell));
    if (column && columns[column] === undefined) {
      columns[column] = index;
      headers[column] = String(cell).trim();
    }
  });
  if (columns.code === undefined) {
    throw new FileRefusal(400, 'The sheet has no code column: its first row needs a header "条码" or "code"');
  }
  if (data.length > MAX_IMPORT_ROWS) throw tooManyRows();
  return { format, columns, headers, rows: data };
}

function readCsv(file: Buffer): SheetRow[] {
  const head = file.subarray(0, 8192);
  if (head.includes(0)) throw notASpreadsheet('binary data');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(file);
  } catch {
    // Excel on a Chinese system saves "CSV" in GB18030 (GBK), not UTF-8.
    try {
      text = new TextDecoder('gb18030', { fatal: true }).decode(file);
    } catch {
      throw notASpreadsheet('the text is neither UTF-8 nor GB18030');
    }
  }
  let records: string[][];
  try {
    records = parseCsv(text, { bom: true, relax_column_count: true, relax_quotes: true, to: MAX_IMPORT_ROWS + 50 }) as string[][];
  } catch (err) {
    throw new FileRefusal(400, `The CSV file cannot be read: ${(err as Error).message.slice(0, 120)}`);
  }
  if (records.length >= MAX_IMPORT_ROWS + 50) throw tooManyRows();
  return records.map((cells, i) => ({ row: i + 1, cells }));
}

/** Checks every entry's real uncompressed size and counts the sheets' rows in the raw XML. */
async function inspectZip(file: Buffer): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(file, { lazyEntries: true, validateEntrySizes: true });
  } catch {
    throw notASpreadsheet('a damaged zip archive');
  }
  let total = 0;
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
        zip.once('entry', resolve);
        zip.once('end', () => resolve(null));
        zip.once('error', reject);
        zip.readEntry();
      });
      zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
      if (!entry) return;
      total += entry.uncompressedSize;
      if (total > MAX_UNCOMPRESSED_BYTES) throw bomb();
      const isSheet = /^xl\/worksheets\/[^/]+\.xml$/i.test(entry.fileName);
      const stream = await zip.openReadStreamPromise(entry);
      // The declared size is the zip's word: yauzl fails the stream if the data inflates past it.
      let rows = 0;
      let tail = '';
      const count = (text: string) => text.match(/<(?:\w+:)?row[\s>]/g)?.length ?? 0;
      for await (const chunk of stream as Readable) {
        if (!isSheet) continue;
        // A tag cut in two by a chunk boundary is found in the previous chunk's tail plus this one;
        // matches wholly inside that tail were counted already.
        const text = tail + (chunk as Buffer).toString('latin1');
        rows += count(text) - count(tail);
        tail = text.slice(-24);
        if (rows > MAX_IMPORT_ROWS + 1) {
          (stream as Readable).destroy();
          throw tooManyRows();
        }
      }
    }
  } catch (err) {
    if (err instanceof FileRefusal) throw err;
    throw notASpreadsheet('a damaged zip archive');
  } finally {
    if (zip.isOpen) zip.close();
  }
}

function bomb(): FileRefusal {
  return new FileRefusal(413, `The workbook unpacks to more than ${MAX_UNCOMPRESSED_BYTES / 1024 / 1024} MB`);
}

async function readXlsx(file: Buffer): Promise<SheetRow[]> {
  await inspectZip(file);
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(file as unknown as Parameters<typeof workbook.xlsx.load>[0]);
  } catch {
    throw notASpreadsheet('the .xlsx workbook cannot be read');
  }
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new FileRefusal(400, 'The workbook has no sheet');
  const rows: SheetRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const values = row.values as unknown[];
    // exceljs numbers cells from 1: values[0] is always empty.
    rows.push({ row: rowNumber, cells: values.slice(1).map(cellRead) });
  });
  return rows;
}

/**
 * A cell as text or a number: a formula gives its cached result (never evaluated here), rich
 * text its characters, a hyperlink its text, an error cell its error text.
 */
export function cellRead(value: unknown): CellRead {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v.richText)) return (v.richText as { text?: unknown }[]).map((r) => String(r.text ?? '')).join('');
    if ('formula' in v || 'sharedFormula' in v) return cellRead(v.result);
    if ('text' in v) return cellRead(v.text);
    if ('error' in v) return String(v.error);
  }
  return String(value);
}
