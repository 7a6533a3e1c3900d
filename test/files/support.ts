import { randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import ExcelJS from 'exceljs';
import type { TestApp, TestUser } from '../helpers/app';

/** Goods rows for a warehouse, inserted directly (stockIn has no unit/price fields on this branch). */
export interface SeedGoods {
  code: string;
  name?: string;
  quantity?: number;
  unit?: string;
  price?: number | null;
  minQuantity?: number | null;
  remarks?: string;
  lastActiveAt?: Date;
}

export async function seedGoods(t: TestApp, user: TestUser, directoryId: number, goods: readonly SeedGoods[]): Promise<void> {
  const now = new Date('2026-11-29T16:30:00.000Z');
  for (let i = 0; i < goods.length; i += 500) {
    await t.db('goods').insert(
      goods.slice(i, i + 500).map((g) => ({
        user_id: user.userId,
        directory_id: directoryId,
        code: g.code,
        name: g.name ?? g.code.slice(0, 16),
        remarks: g.remarks ?? '',
        quantity: g.quantity ?? 0,
        unit: g.unit ?? '',
        price: g.price ?? null,
        min_quantity: g.minQuantity ?? null,
        created_at: now,
        last_active_at: g.lastActiveAt ?? now,
        live: 1,
      })),
    );
  }
}

export async function defaultDirectory(user: TestUser): Promise<{ id: number; name: string }> {
  const [dir] = await user.caller.directory.list();
  return { id: dir!.id, name: dir!.name };
}

/** A new user who joined `directoryId` with `role` through an invitation. */
export async function addMember(t: TestApp, owner: TestUser, directoryId: number, role: 'manager' | 'clerk' | 'viewer'): Promise<TestUser> {
  const member = await t.newUser();
  const invite = await owner.caller.invite.create({ directoryId, role });
  await member.caller.invite.accept({ token: invite.token });
  return member;
}

export async function download(t: TestApp, url: string) {
  const res = await t.app.inject({ method: 'GET', url });
  return { status: res.statusCode, headers: res.headers, body: res.rawPayload, json: () => res.json() as unknown };
}

/** A multipart/form-data body, as wx.uploadFile sends it. */
export function multipartBody(parts: { file?: { name: string; data: Buffer; type?: string }; fields?: Record<string, string> }) {
  const boundary = `----scancode${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(parts.fields ?? {})) {
    chunks.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (parts.file) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${parts.file.name}"\r\ncontent-type: ${parts.file.type ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      parts.file.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function upload(
  t: TestApp,
  opts: { token?: string; directoryId: number | string; file?: { name: string; data: Buffer; type?: string } },
) {
  const { body, contentType } = multipartBody({ file: opts.file, fields: { directoryId: String(opts.directoryId) } });
  const res = await t.app.inject({
    method: 'POST',
    url: '/files/imports',
    headers: { 'content-type': contentType, ...(opts.token ? { 'x-session-token': opts.token } : {}) },
    body,
  });
  return {
    status: res.statusCode,
    body: res.json() as { importId?: number; error?: { json: { message: string; data: { code: string } } } },
  };
}

/** The first sheet's rows as exceljs reads them (values only, header included). */
export async function xlsxRows(data: Buffer): Promise<{ rows: unknown[][]; sheet: ExcelJS.Worksheet }> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(data as unknown as Parameters<typeof wb.xlsx.load>[0]);
  const sheet = wb.worksheets[0]!;
  const rows: unknown[][] = [];
  sheet.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
  return { rows, sheet };
}

/** An .xlsx of these rows (the first is the header), as a spreadsheet program would save it. */
export async function xlsxOf(rows: unknown[][], edit?: (sheet: ExcelJS.Worksheet) => void): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const sheet = wb.addWorksheet('Sheet1');
  for (const row of rows) sheet.addRow(row);
  edit?.(sheet);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/**
 * A zip archive written by hand, so a test can make one no zip tool would: an entry that unpacks
 * to far more than its compressed size, or whose header under-states its size.
 */
export function zipOf(entries: readonly { name: string; data: Buffer; declaredSize?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const packed = deflateRawSync(e.data);
    const crc = crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, packed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** A CSV of these rows (the first is the header), UTF-8 with a BOM as Excel saves it. */
export function csvOf(rows: readonly (readonly (string | number)[])[]): Buffer {
  const cell = (v: string | number) => {
    const s = String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return Buffer.from(`\uFEFF${rows.map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`, 'utf8');
}
