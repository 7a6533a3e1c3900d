import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { type Actor, authorize, joinMembership, notFound } from '../access/access';
import { toDate, toNullableNumber, type Db, type Queryable } from '../db/knex';
import { forUpdate, inTransaction, type Tx } from '../db/tx';
import { lockDirectory } from '../directory/directories';
import * as f from '../domain/fields';
import { fetchPage, type Page } from '../domain/page';
import type { GoodsRow } from '../goods/goods';
import { MAX_QUANTITY } from '../goods/stock';
import { type NewHistoryEntry, recordHistoryBatch } from '../history/history';
import { GOODS_HEADERS, type GoodsColumn, restoreNeutralised } from './cells';
import type { CellRead, ReadSheet } from './import-read';

/*
 * Imports (API.md "export and import"): the upload reads and checks the whole file at once and
 * stores every row with the action it would take (create, update, unchanged, error), so that a
 * preview can page through them from any node; import.confirm applies them later in one
 * transaction, comparing again with the goods as they are then.
 */

export type ImportAction = 'create' | 'update' | 'unchanged' | 'error';
export const IMPORT_ACTIONS = ['create', 'update', 'unchanged', 'error'] as const;
/** The goods fields a sheet can set (lastActiveAt is exported, never imported). */
const FIELDS = ['name', 'quantity', 'unit', 'price', 'minQuantity', 'remarks'] as const;
type Field = (typeof FIELDS)[number];

export const MAX_PRICE = 100_000_000;
export const MAX_MIN_QUANTITY = 1_000_000;
/** Rows per multi-row statement: well under SQLite's and MySQL's limits on bound values. */
const CHUNK = 500;
/**
 * How long an import (its preview rows above all, up to 20,000 of them) is kept, confirmed or not.
 * A week covers a preview looked at again days later; what is older is abandoned or long applied,
 * and the history keeps what an applied import changed.
 */
export const IMPORT_KEEP_MS = 7 * 24 * 3600_000;

/** A row's values; undefined = keep the goods' value (no column, or a blank name or quantity). */
interface Values {
  code: string;
  name?: string;
  quantity?: number;
  unit?: string;
  price?: number | null;
  minQuantity?: number | null;
  remarks?: string;
}

interface PlannedRow {
  row: number;
  values: Partial<Values>;
  action: ImportAction;
  message: string | null;
}

/** What an import compares a row with (src/goods/goods.ts GoodsRow). */
type GoodsNow = Pick<GoodsRow, 'id' | 'code' | 'name' | 'quantity' | 'unit' | 'price' | 'min_quantity' | 'remarks'>;

const GOODS_NOW = ['id', 'code', 'name', 'quantity', 'unit', 'price', 'min_quantity', 'remarks'];

// The procedures' own rules (src/domain/fields.ts), plus the v2 goods fields.
const unitRule = f.boundedText(0, 10);
const wholeNumber = (max: number) =>
  z.number().int('Must be a whole number').min(0, 'Must not be negative').max(max, `Must be at most ${max}`);
const quantityRule = wholeNumber(MAX_QUANTITY);
const minQuantityRule = wholeNumber(MAX_MIN_QUANTITY);
const fenRule = wholeNumber(MAX_PRICE);

function firstIssue(result: z.ZodSafeParseResult<unknown>): string {
  return result.success ? '' : (result.error.issues[0]?.message ?? 'Invalid value');
}

/** Text of a cell as the sheet shows it; a CSV's neutralised formula loses its protective quote. */
function textOf(cell: CellRead | undefined, csv: boolean): string {
  if (cell === null || cell === undefined) return '';
  const text = typeof cell === 'number' ? String(cell) : cell;
  return csv ? restoreNeutralised(text) : text;
}

function numberOf(cell: CellRead | undefined): number | null | 'invalid' {
  if (cell === null || cell === undefined) return null;
  if (typeof cell === 'number') return cell;
  const text = cell.trim();
  if (text === '') return null;
  return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : 'invalid';
}

/** Yuan (a number or text like "12.50", "¥12.5") as fen; 'invalid' for anything else or more than 2 decimals. */
function fenOf(cell: CellRead | undefined): number | null | 'invalid' {
  if (cell === null || cell === undefined) return null;
  if (typeof cell === 'number') {
    const fen = Math.round(cell * 100);
    return Math.abs(fen - cell * 100) < 1e-6 ? fen : 'invalid';
  }
  const text = cell.trim().replace(/^[¥￥]\s*/, '');
  if (text === '') return null;
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  if (!m) return 'invalid';
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

/** Cuts a value that failed its rule to what its column can hold, so the preview can still show it. */
function clip(text: string, max: number): string {
  return Array.from(text.replace(/\p{Surrogate}/gu, '\uFFFD'))
    .slice(0, max)
    .join('');
}

/** Validates one sheet row with the procedures' rules; every problem is named with its row and column. */
function validateRow(sheet: ReadSheet, cells: CellRead[], row: number): { values: Partial<Values>; errors: string[] } {
  const csv = sheet.format === 'csv';
  const errors: string[] = [];
  const values: Partial<Values> = {};
  const cellOf = (column: GoodsColumn) => {
    const index = sheet.columns[column];
    return index === undefined ? undefined : (cells[index] ?? null);
  };
  const fail = (column: GoodsColumn, message: string) =>
    errors.push(`row ${row}, column ${sheet.headers[column] ?? GOODS_HEADERS[column]}: ${message}`);
  const text = (column: GoodsColumn, rule: z.ZodType<string>, max: number, set: (v: string) => void) => {
    const raw = textOf(cellOf(column), csv);
    const parsed = rule.safeParse(raw);
    if (parsed.success) set(parsed.data);
    else {
      fail(column, firstIssue(parsed));
      set(clip(raw.trim(), max));
    }
  };
  const whole = (column: GoodsColumn, rule: z.ZodType<number>, value: number | null | 'invalid', set: (v: number | null) => void) => {
    if (value === null) return set(null);
    const parsed = value === 'invalid' ? null : rule.safeParse(value);
    if (parsed?.success) set(parsed.data);
    else fail(column, parsed ? firstIssue(parsed) : 'Must be a number');
  };

  text('code', f.code, 255, (v) => {
    values.code = v;
  });
  if (sheet.columns.name !== undefined && textOf(cellOf('name'), csv).trim() !== '') {
    text('name', f.goodsName, 100, (v) => {
      values.name = v;
    });
  }
  if (sheet.columns.quantity !== undefined) {
    whole('quantity', quantityRule, numberOf(cellOf('quantity')), (v) => {
      if (v !== null) values.quantity = v;
    });
  }
  if (sheet.columns.unit !== undefined) {
    text('unit', unitRule, 10, (v) => {
      values.unit = v;
    });
  }
  if (sheet.columns.price !== undefined) {
    const fen = fenOf(cellOf('price'));
    if (fen === 'invalid') fail('price', 'Must be an amount in yuan with at most 2 decimals, e.g. 12.50');
    else
      whole('price', fenRule, fen, (v) => {
        values.price = v;
      });
  }
  if (sheet.columns.minQuantity !== undefined) {
    whole('minQuantity', minQuantityRule, numberOf(cellOf('minQuantity')), (v) => {
      values.minQuantity = v;
    });
  }
  if (sheet.columns.remarks !== undefined) {
    text('remarks', f.remarks, 1000, (v) => {
      values.remarks = v;
    });
  }
  return { values, errors };
}

/** The goods row these values would give, or null when nothing would change. */
function changesTo(goods: GoodsNow, v: Partial<Values>): Partial<Values> | null {
  const changed: Partial<Values> = {};
  if (v.name !== undefined && v.name !== goods.name) changed.name = v.name;
  if (v.quantity !== undefined && v.quantity !== Number(goods.quantity)) changed.quantity = v.quantity;
  if (v.unit !== undefined && v.unit !== goods.unit) changed.unit = v.unit;
  if (v.price !== undefined && v.price !== toNullableNumber(goods.price)) changed.price = v.price;
  if (v.minQuantity !== undefined && v.minQuantity !== toNullableNumber(goods.min_quantity)) {
    changed.minQuantity = v.minQuantity;
  }
  if (v.remarks !== undefined && v.remarks !== goods.remarks) changed.remarks = v.remarks;
  return Object.keys(changed).length ? changed : null;
}

async function liveGoodsByCode(q: Queryable, directoryId: number, codes: string[]): Promise<Map<string, GoodsNow>> {
  const found = new Map<string, GoodsNow>();
  for (let i = 0; i < codes.length; i += CHUNK) {
    const rows = (await q('goods')
      .select(GOODS_NOW)
      .where({ directory_id: directoryId, live: 1 })
      .whereIn('code', codes.slice(i, i + CHUNK))) as GoodsNow[];
    for (const row of rows) found.set(row.code, row);
  }
  return found;
}

/** Stores a file read by readSpreadsheet as an import of `directoryId` (checked by the caller: manager or above). */
export async function planImport(
  db: Db,
  user: Actor,
  opts: { directoryId: number; filename: string; sheet: ReadSheet; now: Date },
): Promise<number> {
  const { sheet } = opts;
  const firstRowOfCode = new Map<string, number>();
  const planned: PlannedRow[] = sheet.rows.map(({ row, cells }) => {
    const { values, errors } = validateRow(sheet, cells, row);
    if (!errors.length && values.code !== undefined) {
      const first = firstRowOfCode.get(values.code);
      if (first !== undefined) errors.push(`row ${row}, column ${sheet.headers.code}: the code repeats row ${first}`);
      else firstRowOfCode.set(values.code, row);
    }
    return { row, values, action: errors.length ? 'error' : 'create', message: errors.length ? clip(errors.join('; '), 300) : null };
  });
  const existing = await liveGoodsByCode(db, opts.directoryId, [...firstRowOfCode.keys()]);
  for (const p of planned) {
    if (p.action === 'error') continue;
    const goods = existing.get(p.values.code!);
    if (goods) p.action = changesTo(goods, p.values) ? 'update' : 'unchanged';
  }
  const count = (action: ImportAction) => planned.filter((p) => p.action === action).length;
  const present = FIELDS.filter((field) => sheet.columns[field] !== undefined);
  return inTransaction(db, async (tx) => {
    // Each upload clears its warehouse's expired imports (their rows go by the foreign key's cascade),
    // so abandoned previews do not pile up; bounded by the warehouse's own imports, through its index.
    await tx('imports')
      .where('directory_id', opts.directoryId)
      .where('created_at', '<', new Date(opts.now.getTime() - IMPORT_KEEP_MS))
      .delete();
    const [id] = (await tx('imports').insert({
      directory_id: opts.directoryId,
      user_id: user.id,
      filename: clip(opts.filename, 255),
      status: 'ready',
      columns: present.join(','),
      row_count: planned.length,
      create_count: count('create'),
      update_count: count('update'),
      unchanged_count: count('unchanged'),
      error_count: count('error'),
      created_at: opts.now,
    })) as number[];
    if (id === undefined) throw new Error('insert into imports returned no id');
    for (let i = 0; i < planned.length; i += CHUNK) {
      await tx('import_rows').insert(
        planned.slice(i, i + CHUNK).map((p) => ({
          import_id: id,
          row_number: p.row,
          code: p.values.code ?? null,
          name: p.values.name ?? null,
          quantity: p.values.quantity ?? null,
          unit: p.values.unit ?? null,
          price: p.values.price ?? null,
          min_quantity: p.values.minQuantity ?? null,
          remarks: p.values.remarks ?? null,
          action: p.action,
          message: p.message,
        })),
      );
    }
    return Number(id);
  });
}

export interface ImportSummary {
  id: number;
  directoryId: number;
  status: 'ready' | 'applied';
  filename: string;
  rowCount: number;
  createCount: number;
  updateCount: number;
  unchangedCount: number;
  errorCount: number;
  createdAt: Date;
  appliedAt: Date | null;
}

interface ImportRow {
  id: number;
  directory_id: number;
  status: string;
  filename: string;
  columns: string;
  row_count: number;
  create_count: number;
  update_count: number;
  unchanged_count: number;
  error_count: number;
  created_at: Date | number;
  applied_at: Date | number | null;
}

const IMPORT_COLUMNS = [
  'i.id',
  'i.directory_id',
  'i.status',
  'i.filename',
  'i.columns',
  'i.row_count',
  'i.create_count',
  'i.update_count',
  'i.unchanged_count',
  'i.error_count',
  'i.created_at',
  'i.applied_at',
];

function toSummary(row: ImportRow): ImportSummary {
  return {
    id: Number(row.id),
    directoryId: Number(row.directory_id),
    status: row.status === 'applied' ? 'applied' : 'ready',
    filename: row.filename,
    rowCount: Number(row.row_count),
    createCount: Number(row.create_count),
    updateCount: Number(row.update_count),
    unchangedCount: Number(row.unchanged_count),
    errorCount: Number(row.error_count),
    createdAt: toDate(row.created_at),
    appliedAt: row.applied_at === null ? null : toDate(row.applied_at),
  };
}

/**
 * An import of a live warehouse where the user may import (manager or above): imports are a
 * manager's tool, previews included. NOT_FOUND for a non-member, FORBIDDEN below manager.
 */
async function readImport(q: Queryable, userId: number, importId: number): Promise<ImportRow> {
  const row = (await joinMembership(q('imports as i'), userId, 'i.directory_id')
    .join('directories as d', 'd.id', 'i.directory_id')
    .select(IMPORT_COLUMNS)
    .where({ 'i.id': importId, 'd.live': 1 })
    .first()) as (ImportRow & { role: string }) | undefined;
  authorize(row?.role, 'manage', 'Import');
  return row!;
}

export async function getImport(db: Db, userId: number, importId: number): Promise<ImportSummary> {
  return toSummary(await readImport(db, userId, importId));
}

export interface ImportRowOut {
  row: number;
  code: string | null;
  name: string | null;
  quantity: number | null;
  unit: string | null;
  /** Fen, like every amount of money in the API. */
  price: number | null;
  minQuantity: number | null;
  remarks: string | null;
  action: ImportAction;
  message: string | null;
}

interface StoredRow {
  id: number;
  row_number: number;
  code: string | null;
  name: string | null;
  quantity: number | null;
  unit: string | null;
  price: number | null;
  min_quantity: number | null;
  remarks: string | null;
  action: ImportAction;
  message: string | null;
}

/** import.rows: in the sheet's order, by the stored rows' ids (ascending, so the cursor pages forward). */
export async function listImportRows(
  db: Db,
  userId: number,
  opts: { importId: number; action?: ImportAction; cursor?: string | null; limit: number },
): Promise<Page<ImportRowOut>> {
  await readImport(db, userId, opts.importId);
  const query = db('import_rows')
    .select('id', 'row_number', 'code', 'name', 'quantity', 'unit', 'price', 'min_quantity', 'remarks', 'action', 'message')
    .where('import_id', opts.importId);
  if (opts.action) query.where('action', opts.action);
  return fetchPage<StoredRow, ImportRowOut>(query, {
    idColumn: 'id',
    cursor: opts.cursor,
    limit: opts.limit,
    order: 'asc',
    map: (r) => ({
      row: Number(r.row_number),
      code: r.code,
      name: r.name,
      quantity: toNullableNumber(r.quantity),
      unit: r.unit,
      price: toNullableNumber(r.price),
      minQuantity: toNullableNumber(r.min_quantity),
      remarks: r.remarks,
      action: r.action,
      message: r.message,
    }),
  });
}

export interface ConfirmResult {
  created: number;
  updated: number;
  logged: number;
}

/**
 * import.confirm, inside the caller's transaction: locks the warehouse (as every stock change does,
 * so nothing changes its goods meanwhile) and the import, then applies the rows that are not
 * errors chunk by chunk, each chunk one multi-row upsert, one read of the ids and one multi-row
 * history insert. Rows are compared again with the goods as they are now: an "update" that
 * someone already made changes nothing.
 */
export async function confirmImport(
  tx: Tx,
  actor: Actor,
  opts: { importId: number; quantityMode: 'set' | 'add'; now: Date },
): Promise<ConfirmResult> {
  const found = (await tx('imports').select('directory_id').where('id', opts.importId).first()) as { directory_id: number } | undefined;
  if (!found) throw notFound('Import');
  const dir = await lockDirectory(tx, actor.id, Number(found.directory_id), 'manage', 'Import');
  const imp = (await forUpdate(tx('imports').select('status', 'filename', 'columns').where('id', opts.importId), tx).first()) as {
    status: string;
    filename: string;
    columns: string;
  };
  if (imp.status !== 'ready') {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'This import was already confirmed' });
  }
  const note = clip(imp.filename, 200);
  const result: ConfirmResult = { created: 0, updated: 0, logged: 0 };
  let after = 0;
  for (;;) {
    const rows = (await tx('import_rows')
      .select('id', 'row_number', 'code', 'name', 'quantity', 'unit', 'price', 'min_quantity', 'remarks')
      .where('import_id', opts.importId)
      .whereNot('action', 'error')
      .where('id', '>', after)
      .orderBy('id', 'asc')
      .limit(CHUNK)) as StoredRow[];
    if (!rows.length) break;
    after = Number(rows[rows.length - 1]!.id);
    await applyChunk(tx, actor, { directoryId: dir.id, directoryName: dir.name, columns: imp.columns, note, ...opts }, rows, result);
  }
  await tx('directories').where({ id: dir.id }).update({ last_active_at: opts.now });
  await tx('imports').where('id', opts.importId).update({ status: 'applied', applied_at: opts.now });
  return result;
}

async function applyChunk(
  tx: Tx,
  actor: Actor,
  ctx: { directoryId: number; directoryName: string; columns: string; note: string; quantityMode: 'set' | 'add'; now: Date },
  rows: StoredRow[],
  result: ConfirmResult,
): Promise<void> {
  const present = new Set(ctx.columns.split(',').filter(Boolean) as Field[]);
  const current = await liveGoodsByCode(
    tx,
    ctx.directoryId,
    rows.map((r) => r.code!),
  );
  const upserts: Record<string, unknown>[] = [];
  const quantityChanges = new Map<string, { delta: number; after: number; name: string }>();
  for (const r of rows) {
    const code = r.code!;
    const goods = current.get(code);
    const given = r.quantity === null ? undefined : Number(r.quantity);
    const quantityNow = goods ? Number(goods.quantity) : 0;
    let quantity = quantityNow;
    if (given !== undefined) quantity = ctx.quantityMode === 'add' ? quantityNow + given : given;
    if (quantity > MAX_QUANTITY) {
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `row ${r.row_number}: the quantity would exceed ${MAX_QUANTITY}` });
    }
    const values: Partial<Values> = {
      ...(r.name !== null ? { name: r.name } : {}),
      quantity,
      ...(present.has('unit') ? { unit: r.unit ?? '' } : {}),
      ...(present.has('price') ? { price: toNullableNumber(r.price) } : {}),
      ...(present.has('minQuantity') ? { minQuantity: toNullableNumber(r.min_quantity) } : {}),
      ...(present.has('remarks') ? { remarks: r.remarks ?? '' } : {}),
    };
    if (goods && !changesTo(goods, values)) continue;
    const name = values.name ?? goods?.name ?? f.firstCodePoints(code, 16);
    upserts.push({
      user_id: actor.id,
      directory_id: ctx.directoryId,
      code,
      name,
      remarks: values.remarks ?? goods?.remarks ?? '',
      quantity,
      unit: values.unit ?? goods?.unit ?? '',
      price: values.price !== undefined ? values.price : (goods?.price ?? null),
      min_quantity: values.minQuantity !== undefined ? values.minQuantity : (goods?.min_quantity ?? null),
      created_at: ctx.now,
      last_active_at: ctx.now,
      live: 1,
    });
    if (goods) result.updated++;
    else result.created++;
    if (quantity !== quantityNow) quantityChanges.set(code, { delta: quantity - quantityNow, after: quantity, name });
  }
  if (!upserts.length) return;
  // One statement for the chunk: new codes are inserted, existing live ones updated in place
  // (the unique key is directory, code, live). user_id and created_at stay those of the first insert.
  await tx('goods')
    .insert(upserts)
    .onConflict(['directory_id', 'code', 'live'])
    .merge(['name', 'remarks', 'quantity', 'unit', 'price', 'min_quantity', 'last_active_at']);
  if (!quantityChanges.size) return;
  const ids = await liveGoodsByCode(tx, ctx.directoryId, [...quantityChanges.keys()]);
  const entries: NewHistoryEntry[] = [...quantityChanges].map(([code, change]) => ({
    actor,
    type: 'stock.import',
    directoryId: ctx.directoryId,
    directoryName: ctx.directoryName,
    goodsId: Number(ids.get(code)!.id),
    goodsName: change.name,
    delta: change.delta,
    quantityAfter: change.after,
    note: ctx.note,
    createdAt: ctx.now,
  }));
  await recordHistoryBatch(tx, entries);
  result.logged += entries.length;
}
