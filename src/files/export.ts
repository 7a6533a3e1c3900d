import type { PassThrough } from 'node:stream';
import type { Actor } from '../access/access';
import type { GoodsRow } from '../goods/goods';
import { authorize, joinMembership, notFound } from '../access/access';
import { generateToken, hashToken, isWellFormedToken } from '../auth/sessions';
import { toDate, toNullableNumber, type Db, type Queryable } from '../db/knex';
import { visibleHistory } from '../history/history';
import { GOODS_HEADERS, safeFileName, wallClock } from './cells';
import { stocktakeExportSource } from './export-stocktake';
import { streamRows } from './rows';
import { type CellValue, createSheetWriter, type ExportFormat, type SheetColumn } from './sheet-writer';

/*
 * Exports (API.md "export and import"). export.create checks that the caller may read what they
 * ask for and stores a link: a random token (256 bits) of which only the hash is kept, valid for
 * ten minutes, bound to its creator. Opening the link needs no session (wx.downloadFile and a
 * browser cannot send one), so it checks again, at that moment, that the creator still belongs to
 * the warehouse; anything wrong with a link reads as 404, never saying which.
 */

export const EXPORT_LINK_TTL_MS = 10 * 60_000;
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
/** Expired links are deleted this long after they expire, by the next export.create. */
const LINK_KEEP_MS = 3600_000;

export type ExportKind = 'goods' | 'log' | 'stocktake';

export interface ExportRequest {
  kind: ExportKind;
  directoryId?: number | undefined;
  stocktakeId?: number | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  format: ExportFormat;
  timeZone: string;
}

export interface ExportLink {
  url: string;
  filename: string;
  expiresAt: Date;
}

/** What a link exports, resolved against the database with the creator's current rights. */
interface ExportSource {
  sheetName: string;
  /** The file's name without the extension: the warehouse's name (API.md) and what it holds. */
  title: string;
  /** ASCII only, for clients that do not read RFC 6266 `filename*`. */
  asciiTitle: string;
  columns: readonly SheetColumn[];
  rows(): AsyncIterable<readonly CellValue[]>;
}

/**
 * A live warehouse the user belongs to, or (history only, as log.list shows it) a deleted one they
 * own; NOT_FOUND otherwise. Any role may export (API.md Roles).
 */
async function readableDirectory(db: Queryable, userId: number, id: number, opts: { deletedIfOwner: boolean }): Promise<string> {
  const row = (await joinMembership(db('directories as d'), userId, 'd.id')
    .select('d.name', 'd.live', 'd.user_id')
    .where('d.id', id)
    .first()) as { role: string; name: string; live: number | null; user_id: number } | undefined;
  authorize(row?.role, 'read', 'Directory');
  const visible = row!.live !== null ? Number(row!.live) === 1 : opts.deletedIfOwner && Number(row!.user_id) === userId;
  if (!visible) throw notFound('Directory');
  return row!.name;
}

const GOODS_COLUMNS_OUT: readonly SheetColumn[] = [
  { header: GOODS_HEADERS.code, kind: 'text', width: 18 },
  { header: GOODS_HEADERS.name, kind: 'text', width: 24 },
  { header: GOODS_HEADERS.quantity, kind: 'int', width: 12 },
  { header: GOODS_HEADERS.unit, kind: 'text', width: 8 },
  { header: GOODS_HEADERS.price, kind: 'yuan', width: 12 },
  { header: GOODS_HEADERS.minQuantity, kind: 'int', width: 14 },
  { header: GOODS_HEADERS.remarks, kind: 'text', width: 30 },
  { header: GOODS_HEADERS.lastActiveAt, kind: 'date', width: 20 },
];

/** The goods columns the sheet shows (src/goods/goods.ts GoodsRow). */
type GoodsExportRow = Pick<
  GoodsRow,
  'id' | 'code' | 'name' | 'quantity' | 'unit' | 'price' | 'min_quantity' | 'remarks' | 'last_active_at'
> &
  Record<string, unknown>;

function goodsSource(db: Db, directoryId: number, directoryName: string, dateTag: string): ExportSource {
  return {
    sheetName: '商品 goods',
    title: `${safeFileName(directoryName)}-商品-${dateTag}`,
    asciiTitle: `goods-${directoryId}-${dateTag}`,
    columns: GOODS_COLUMNS_OUT,
    async *rows() {
      const query = () =>
        db('goods')
          .select('id', 'code', 'name', 'quantity', 'unit', 'price', 'min_quantity', 'remarks', 'last_active_at')
          .where({ directory_id: directoryId, live: 1 });
      for await (const g of streamRows<GoodsExportRow>(db, query, { idColumn: 'id', order: 'asc' })) {
        yield [
          g.code,
          g.name,
          Number(g.quantity),
          g.unit,
          toNullableNumber(g.price),
          toNullableNumber(g.min_quantity),
          g.remarks,
          toDate(g.last_active_at),
        ];
      }
    },
  };
}

const LOG_COLUMNS_OUT: readonly SheetColumn[] = [
  { header: '时间 createdAt', kind: 'date', width: 20 },
  { header: '类型 type', kind: 'text', width: 14 },
  { header: '仓库 directoryName', kind: 'text', width: 16 },
  { header: '商品 goodsName', kind: 'text', width: 24 },
  { header: '变动 delta', kind: 'int', width: 10 },
  { header: '结存 quantityAfter', kind: 'int', width: 14 },
  { header: '操作人 actorName', kind: 'text', width: 14 },
  { header: '备注 note', kind: 'text', width: 30 },
  { header: '对方仓库 counterpartDirectoryName', kind: 'text', width: 16 },
];

interface LogExportRow extends Record<string, unknown> {
  id: number;
  type: string;
  directory_name: string | null;
  goods_name: string | null;
  delta: number | null;
  quantity_after: number | null;
  actor_name: string | null;
  note: string | null;
  counterpart_directory_name: string | null;
  created_at: Date | number;
}

function logSource(
  db: Db,
  userId: number,
  filter: { directoryId?: number; from?: Date; to?: Date },
  directoryName: string | null,
  dateTag: string,
): ExportSource {
  return {
    sheetName: '日志 log',
    title: `${directoryName === null ? '全部仓库' : safeFileName(directoryName)}-日志-${dateTag}`,
    asciiTitle: `log-${filter.directoryId ?? 'all'}-${dateTag}`,
    columns: LOG_COLUMNS_OUT,
    async *rows() {
      // The very query log.list pages through, so the file holds exactly what the app shows, newest first.
      const query = () => visibleHistory(db, userId, filter);
      for await (const l of streamRows<LogExportRow>(db, query, { idColumn: 'l.id', idKey: 'id', order: 'desc' })) {
        yield [
          toDate(l.created_at),
          l.type,
          l.directory_name,
          l.goods_name,
          toNullableNumber(l.delta),
          toNullableNumber(l.quantity_after),
          l.actor_name,
          l.note,
          l.counterpart_directory_name,
        ];
      }
    },
  };
}

interface LinkRow {
  id: number;
  user_id: number;
  kind: string;
  format: string;
  directory_id: number | null;
  stocktake_id: number | null;
  from_at: Date | number | null;
  to_at: Date | number | null;
  time_zone: string;
  filename: string;
  created_at: Date | number;
}

/** Resolves what a request (new, or stored in a link) exports, checking the user's rights now. */
async function sourceOf(db: Db, userId: number, req: ExportRequest, createdAt: Date): Promise<ExportSource> {
  const dateTag = wallClock(req.timeZone)(createdAt).text.slice(0, 10).replace(/-/g, '');
  if (req.kind === 'goods') {
    const directoryId = req.directoryId!;
    const name = await readableDirectory(db, userId, directoryId, { deletedIfOwner: false });
    return goodsSource(db, directoryId, name, dateTag);
  }
  if (req.kind === 'log') {
    const name = req.directoryId === undefined ? null : await readableDirectory(db, userId, req.directoryId, { deletedIfOwner: true });
    const filter = {
      ...(req.directoryId !== undefined ? { directoryId: req.directoryId } : {}),
      ...(req.from ? { from: req.from } : {}),
      ...(req.to ? { to: req.to } : {}),
    };
    return logSource(db, userId, filter, name, dateTag);
  }
  return stocktakeExportSource(db, userId, req.stocktakeId!, dateTag);
}

/** export.create: checks the caller's rights and stores a link to the file. */
export async function createExport(db: Db, user: Actor, req: ExportRequest, now: Date): Promise<ExportLink> {
  const source = await sourceOf(db, user.id, req, now);
  const token = generateToken();
  const expiresAt = new Date(now.getTime() + EXPORT_LINK_TTL_MS);
  const filename = `${source.title}.${req.format}`;
  await db('export_links')
    .where('expires_at', '<', new Date(now.getTime() - LINK_KEEP_MS))
    .delete();
  await db('export_links').insert({
    token_hash: hashToken(token),
    user_id: user.id,
    kind: req.kind,
    format: req.format,
    directory_id: req.directoryId ?? null,
    stocktake_id: req.stocktakeId ?? null,
    from_at: req.from ?? null,
    to_at: req.to ?? null,
    time_zone: req.timeZone,
    filename,
    created_at: now,
    expires_at: expiresAt,
  });
  // The extension in the path lets wx.downloadFile and wx.openDocument tell what kind of file it is.
  return { url: `/files/${token}.${req.format}`, filename, expiresAt };
}

export interface OpenedExport {
  filename: string;
  asciiFilename: string;
  format: ExportFormat;
  /** Writes the whole file into `out`, row by row, and ends it. */
  write(out: PassThrough): Promise<void>;
}

const LINK_PATH = /^([A-Za-z0-9_-]{43})\.(xlsx|csv)$/;

/**
 * The export a `/files/<token>.<ext>` path names, if the link exists, has not expired, and its creator
 * may still read what it exports; null otherwise (the caller answers 404 without saying why).
 */
export async function openExport(db: Db, file: string, now: Date): Promise<OpenedExport | null> {
  const m = LINK_PATH.exec(file);
  if (!m || !isWellFormedToken(m[1]!)) return null;
  const link = (await db('export_links')
    .select('id', 'user_id', 'kind', 'format', 'directory_id', 'stocktake_id', 'from_at', 'to_at', 'time_zone', 'filename', 'created_at')
    .where('token_hash', hashToken(m[1]!))
    .where('expires_at', '>', now)
    .first()) as LinkRow | undefined;
  if (!link || link.format !== m[2]) return null;
  const format = link.format as ExportFormat;
  const req: ExportRequest = {
    kind: link.kind as ExportKind,
    format,
    timeZone: link.time_zone,
    ...(link.directory_id !== null ? { directoryId: Number(link.directory_id) } : {}),
    ...(link.stocktake_id !== null ? { stocktakeId: Number(link.stocktake_id) } : {}),
    ...(link.from_at !== null ? { from: toDate(link.from_at) } : {}),
    ...(link.to_at !== null ? { to: toDate(link.to_at) } : {}),
  };
  let source: ExportSource;
  try {
    source = await sourceOf(db, Number(link.user_id), req, toDate(link.created_at));
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_FOUND' || (err as { code?: string }).code === 'FORBIDDEN') return null;
    throw err;
  }
  return {
    // The name export.create answered, even if the warehouse was renamed since.
    filename: link.filename,
    asciiFilename: `${source.asciiTitle}.${format}`,
    format,
    async write(out) {
      const writer = createSheetWriter(format, { out, sheetName: source.sheetName, columns: source.columns, timeZone: req.timeZone });
      for await (const cells of source.rows()) {
        if (out.destroyed) return;
        await writer.addRow(cells);
      }
      await writer.finish();
    },
  };
}

/** RFC 6266 / RFC 5987: an ASCII `filename` for old clients and the real name, UTF-8, in `filename*`. */
export function contentDisposition(filename: string, asciiFallback: string): string {
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const ascii = asciiFallback.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
