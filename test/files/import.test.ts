import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { countRows, expectTRPCError } from '../domain/helpers';
import { IMPORT_KEEP_MS } from '../../src/files/import';
import { addMember, csvOf, seedGoods, upload, xlsxOf } from './support';

describe('POST /files/imports and import.get/rows/confirm', () => {
  let owner: TestUser;
  let dirId: number;

  const t = useTestApp();
  beforeAll(async () => {
    owner = await t.newUser();
    dirId = (await owner.caller.directory.create({ name: '导入仓' })).id;
    await seedGoods(t, owner, dirId, [
      { code: 'A1', name: '苹果', quantity: 10, unit: '个', price: 350, remarks: 'old' },
      { code: 'B2', name: '香蕉', quantity: 5, unit: '把', price: 1200, minQuantity: 2 },
    ]);
  });

  it('reads columns by header in any order and language, plans each row and names the row and column of each error', async () => {
    const file = await xlsxOf([
      ['PRICE', '数量', 'Code', '名称 name', '单位', 'Remarks', 'ignored column'],
      [3.5, 10, 'A1', '苹果', '个', 'old', 'x'],
      [12, 7, 'B2', '香蕉', '把', '', 'x'],
      ['0.99', 1, 'C3', '樱桃 🍒', '盒', 'new', 'x'],
      ['abc', 1, 'D4', 'bad price', '', '', ''],
      [1, -3, 'E5', 'negative', '', '', ''],
      [1, 1, 'F6', 'unit too long', '12345678901', '', ''],
      [1, 1, 'C3', 'duplicate', '', '', ''],
      [1, 1, '', 'no code', '', '', ''],
      [1.234, 1, 'G7', 'three decimals', '', '', ''],
    ]);
    const res = await upload(t, { token: owner.token, directoryId: dirId, file: { name: '进货单.xlsx', data: file } });
    expect(res.status).toBe(200);
    const importId = res.body.importId!;
    expect(importId).toBeGreaterThan(0);

    const summary = await owner.caller.import.get({ importId });
    expect(summary).toMatchObject({
      directoryId: dirId,
      status: 'ready',
      filename: '进货单.xlsx',
      rowCount: 9,
      createCount: 1,
      updateCount: 1,
      unchangedCount: 1,
      errorCount: 6,
      appliedAt: null,
    });
    const all = await owner.caller.import.rows({ importId, limit: 100 });
    expect(all.items.map((r) => [r.row, r.code, r.action])).toEqual([
      [2, 'A1', 'unchanged'],
      [3, 'B2', 'update'],
      [4, 'C3', 'create'],
      [5, 'D4', 'error'],
      [6, 'E5', 'error'],
      [7, 'F6', 'error'],
      [8, 'C3', 'error'],
      [9, '', 'error'],
      [10, 'G7', 'error'],
    ]);
    expect(all.items[2]).toMatchObject({ name: '樱桃 🍒', quantity: 1, unit: '盒', price: 99, remarks: 'new', message: null });
    const errors = (await owner.caller.import.rows({ importId, action: 'error', limit: 100 })).items.map((r) => r.message);
    expect(errors).toEqual([
      expect.stringMatching(/^row 5, column PRICE: .*yuan/),
      expect.stringMatching(/^row 6, column 数量: Must not be negative/),
      expect.stringMatching(/^row 7, column 单位: Must be at most 10 characters/),
      'row 8, column Code: the code repeats row 4',
      expect.stringMatching(/^row 9, column Code: Must not be empty/),
      expect.stringMatching(/^row 10, column PRICE: .*2 decimals/),
    ]);
    const page1 = await owner.caller.import.rows({ importId, limit: 4 });
    const page2 = await owner.caller.import.rows({ importId, limit: 4, cursor: page1.nextCursor });
    expect([...page1.items, ...page2.items].map((r) => r.row)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);

    const result = await owner.caller.import.confirm({ importId, requestId: 'confirm-1' });
    expect(result).toEqual({ created: 1, updated: 1, logged: 2 });
    expect(await owner.caller.import.confirm({ importId, requestId: 'confirm-1' })).toEqual(result);
    await expectTRPCError(owner.caller.import.confirm({ importId }), 'PRECONDITION_FAILED');
    expect(await owner.caller.import.get({ importId })).toMatchObject({ status: 'applied', appliedAt: expect.any(Date) });

    const goods = await owner.caller.goods.list({ directoryId: dirId, limit: 100 });
    const byCode = Object.fromEntries(goods.items.map((g) => [g.code, g]));
    expect(byCode.B2).toMatchObject({ quantity: 7, price: 1200, unit: '把', remarks: '', minQuantity: 2 });
    expect(byCode.C3).toMatchObject({ name: '樱桃 🍒', quantity: 1, unit: '盒', price: 99, remarks: 'new', minQuantity: null });
    expect(byCode.A1).toMatchObject({ quantity: 10, remarks: 'old' });

    const history = await owner.caller.log.list({ directoryId: dirId, type: 'stock.import', limit: 100 });
    expect(history.items.map((e) => [e.goodsId, e.delta, e.quantityAfter, e.note]).sort()).toEqual(
      [
        [byCode.B2!.id, 2, 7, '进货单.xlsx'],
        [byCode.C3!.id, 1, 1, '进货单.xlsx'],
      ].sort(),
    );
  });

  it('adds quantities with quantityMode add, and leaves fields without a column as they are', async () => {
    const file = csvOf([
      ['条码', '数量'],
      ['A1', 5],
      ['NEW', 3],
    ]);
    const res = await upload(t, { token: owner.token, directoryId: dirId, file: { name: 'add.csv', data: file, type: 'text/csv' } });
    expect(res.status).toBe(200);
    const importId = res.body.importId!;
    expect(await owner.caller.import.get({ importId })).toMatchObject({ createCount: 1, updateCount: 1 });
    expect(await owner.caller.import.confirm({ importId, quantityMode: 'add' })).toEqual({ created: 1, updated: 1, logged: 2 });
    const a1 = await owner.caller.goods.scan({ directoryId: dirId, code: 'A1' });
    expect(a1).toMatchObject({ quantity: 15, name: '苹果', remarks: 'old', price: 350, unit: '个' });
    const created = await owner.caller.goods.scan({ directoryId: dirId, code: 'NEW' });
    expect(created).toMatchObject({ quantity: 3, name: 'NEW', unit: '', price: null });
  });

  it('reads a CSV saved in GB18030 and formulas and rich text in an XLSX as their text', async () => {
    const gbk = Buffer.from([
      // "条码,名称\r\nGBK1,苹果\r\n" in GB18030
      0xcc, 0xf5, 0xc2, 0xeb, 0x2c, 0xc3, 0xfb, 0xb3, 0xc6, 0x0d, 0x0a, 0x47, 0x42, 0x4b, 0x31, 0x2c, 0xc6, 0xbb, 0xb9, 0xfb, 0x0d, 0x0a,
    ]);
    const res = await upload(t, { token: owner.token, directoryId: dirId, file: { name: 'gbk.csv', data: gbk } });
    expect(res.status).toBe(200);
    const [row] = (await owner.caller.import.rows({ importId: res.body.importId! })).items;
    expect(row).toMatchObject({ code: 'GBK1', name: '苹果', action: 'create' });

    const file = await xlsxOf([['code', 'name', 'quantity']], (sheet) => {
      sheet.addRow([
        { formula: '"F"&"1"', result: 'F1' },
        { richText: [{ text: '富' }, { font: { bold: true }, text: '文本' }] },
        { formula: '2*3', result: 6 },
      ]);
      sheet.addRow([{ formula: 'HYPERLINK("http://x","H1")', result: 'H1' }, '=1+1', { sharedFormula: 'C2', result: 6 }]);
    });
    const res2 = await upload(t, { token: owner.token, directoryId: dirId, file: { name: 'formulas.xlsx', data: file } });
    expect(res2.status).toBe(200);
    const rows = (await owner.caller.import.rows({ importId: res2.body.importId! })).items;
    expect(rows.map((r) => [r.code, r.name, r.quantity, r.action])).toEqual([
      ['F1', '富文本', 6, 'create'],
      ['H1', '=1+1', 6, 'create'],
    ]);
  });

  it('refuses without a session (401), for a non-member (404) and below manager (403), as tRPC envelopes', async () => {
    const file = { name: 'x.csv', data: csvOf([['code'], ['Z']]) };
    const none = await upload(t, { directoryId: dirId, file });
    expect(none.status).toBe(401);
    expect(none.body.error?.json.data.code).toBe('UNAUTHORIZED');
    const stranger = await t.newUser();
    const notMember = await upload(t, { token: stranger.token, directoryId: dirId, file });
    expect(notMember.status).toBe(404);
    expect(notMember.body.error?.json.data.code).toBe('NOT_FOUND');
    const clerk = await addMember(t, owner, dirId, 'clerk');
    const tooLow = await upload(t, { token: clerk.token, directoryId: dirId, file });
    expect(tooLow.status).toBe(403);
    expect(tooLow.body.error?.json.data.code).toBe('FORBIDDEN');
    const manager = await addMember(t, owner, dirId, 'manager');
    const ok = await upload(t, { token: manager.token, directoryId: dirId, file });
    expect(ok.status).toBe(200);
    const importId = ok.body.importId!;
    await expectTRPCError(stranger.caller.import.get({ importId }), 'NOT_FOUND');
    await expectTRPCError(stranger.caller.import.confirm({ importId }), 'NOT_FOUND');
    await expectTRPCError(clerk.caller.import.rows({ importId }), 'FORBIDDEN');
    await expectTRPCError(clerk.caller.import.confirm({ importId }), 'FORBIDDEN');
    expect(await owner.caller.import.get({ importId })).toMatchObject({ rowCount: 1, createCount: 1 });
  });

  describe('hostile files get a clear 4xx and nothing else', () => {
    async function refused(file: { name: string; data: Buffer }, status: number, message: RegExp) {
      const before = await countRows(t.db, 'imports');
      const res = await upload(t, { token: owner.token, directoryId: dirId, file });
      expect(res.status).toBe(status);
      expect(res.body.error?.json.message).toMatch(message);
      expect(await countRows(t.db, 'imports')).toBe(before);
    }

    it('not a spreadsheet', async () => {
      await refused(
        { name: 'photo.png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]) },
        415,
        /Not a readable spreadsheet/,
      );
      await refused({ name: 'old.xls', data: Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]) }, 415, /\.xls/);
      await refused({ name: 'fake.xlsx', data: Buffer.from('code\nA\n') }, 415, /not a zip/);
      await refused(
        { name: 'broken.xlsx', data: Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(100, 7)]) },
        415,
        /zip/,
      );
    });

    it('an XLSX that unpacks to more than 50 MB, or lies about its size', async () => {
      const { zipOf } = await import('./support');
      const huge = Buffer.alloc(51 * 1024 * 1024, 0x20);
      await refused({ name: 'bomb.xlsx', data: zipOf([{ name: 'xl/worksheets/sheet1.xml', data: huge }]) }, 413, /50 MB/);
      await refused(
        { name: 'liar.xlsx', data: zipOf([{ name: 'xl/worksheets/sheet1.xml', data: huge, declaredSize: 1000 }]) },
        415,
        /damaged/,
      );
    });

    it('more than 20,000 rows', async () => {
      const rows: (string | number)[][] = [['code', 'quantity']];
      for (let i = 0; i <= 20_000; i++) rows.push([`R${i}`, 1]);
      await refused({ name: 'big.csv', data: csvOf(rows) }, 413, /more than 20000 rows/);
      await refused({ name: 'big.xlsx', data: await xlsxOf(rows) }, 413, /more than 20000 rows/);
    });

    it('an upload over 5 MB', async () => {
      const data = Buffer.alloc(6 * 1024 * 1024, 'a');
      await refused({ name: 'six.csv', data }, 413, /too large/);
    });

    it('a sheet without a code column', async () => {
      await refused(
        {
          name: 'nocode.csv',
          data: csvOf([
            ['名称', '数量'],
            ['苹果', 1],
          ]),
        },
        400,
        /no code column/,
      );
      await refused({ name: 'empty.xlsx', data: await xlsxOf([]) }, 400, /no code column/);
    });
  });
});

describe('imports are kept for a week', () => {
  const t = useTestApp();

  it("an upload clears its warehouse's imports older than IMPORT_KEEP_MS, rows included, and no other warehouse's", async () => {
    const owner = await t.newUser();
    const dirA = (await owner.caller.directory.create({ name: 'A' })).id;
    const dirB = (await owner.caller.directory.create({ name: 'B' })).id;
    const sheet = csvOf([
      ['code', 'quantity'],
      ['K1', 1],
      ['K2', 2],
    ]);
    const send = async (directoryId: number) => {
      const res = await upload(t, { token: owner.token, directoryId, file: { name: 'list.csv', data: sheet } });
      expect(res.status).toBe(200);
      return res.body.importId!;
    };
    const oldA = await send(dirA);
    const confirmedA = await send(dirA);
    await owner.caller.import.confirm({ importId: confirmedA });
    const oldB = await send(dirB);

    t.advanceClock(IMPORT_KEEP_MS - 60_000);
    const recentA = await send(dirA);
    // Not yet a week old: nothing is cleared.
    for (const importId of [oldA, confirmedA]) expect(await owner.caller.import.get({ importId })).toMatchObject({ id: importId });

    t.advanceClock(120_000);
    const newA = await send(dirA);
    for (const importId of [oldA, confirmedA]) {
      await expectTRPCError(owner.caller.import.get({ importId }), 'NOT_FOUND');
      expect(await countRows(t.db, 'import_rows', { import_id: importId })).toBe(0);
    }
    for (const importId of [recentA, newA, oldB]) {
      expect(await owner.caller.import.get({ importId })).toMatchObject({ id: importId, rowCount: 2 });
      expect(await countRows(t.db, 'import_rows', { import_id: importId })).toBe(2);
    }
    // What the confirmed import changed stays in the goods and the history.
    const goods = await owner.caller.goods.list({ directoryId: dirA });
    expect(goods.items.map((g) => [g.code, g.quantity]).sort()).toEqual([
      ['K1', 1],
      ['K2', 2],
    ]);
    expect(await countRows(t.db, 'logs', { directory_id: dirA, type: 'stock.import' })).toBe(2);
  });
});
