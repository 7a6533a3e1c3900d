import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { expectTRPCError } from '../domain/helpers';
import { addMember, defaultDirectory, download, seedGoods, xlsxRows } from './support';

const HEADERS = [
  '条码 code',
  '名称 name',
  '数量 quantity',
  '单位 unit',
  '单价 price',
  '安全库存 minQuantity',
  '备注 remarks',
  '最后变动 lastActiveAt',
];

describe('export.create and GET /files/…', () => {
  let owner: TestUser;
  let dir: { id: number; name: string };

  const t = useTestApp();
  beforeAll(async () => {
    owner = await t.newUser();
    dir = await defaultDirectory(owner);
    await owner.caller.directory.rename({ id: dir.id, name: '一号仓 "A/B"' });
    dir.name = '一号仓 "A/B"';
    await seedGoods(t, owner, dir.id, [
      { code: '0012345', name: '矿泉水 🍎', quantity: 12, unit: '瓶', price: 1250, minQuantity: 5, remarks: '冷藏' },
      { code: '6901234567892', name: 'Long code', quantity: 3, price: 5, lastActiveAt: new Date('2026-01-31T17:30:05.000Z') },
      { code: '=cmd|calc', name: '+danger', quantity: 0, remarks: '@SUM(A1)', unit: '-' },
      { code: 'tab', name: '\tTabbed', remarks: "'=quoted" },
    ]);
  });

  it('streams the goods sheet as XLSX with the bilingual headers, codes as text and yuan with two decimals', async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dir.id });
    expect(link.url).toMatch(/^\/files\/[A-Za-z0-9_-]{43}\.xlsx$/);
    expect(link.filename).toMatch(/^一号仓 _A_B_-商品-\d{8}\.xlsx$/);
    expect(link.expiresAt.getTime() - t.now().getTime()).toBeGreaterThan(9 * 60_000);

    const res = await download(t, link.url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const disposition = String(res.headers['content-disposition']);
    expect(disposition).toMatch(/^attachment; filename="goods-\d+-\d{8}\.xlsx"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1]!)).toBe(link.filename);

    const { rows, sheet } = await xlsxRows(res.body);
    expect(rows[0]).toEqual(HEADERS);
    expect(rows).toHaveLength(5);
    const [first, second, third] = rows.slice(1);
    expect(first!.slice(0, 7)).toEqual(['0012345', '矿泉水 🍎', 12, '瓶', 12.5, 5, '冷藏']);
    expect(second![0]).toBe('6901234567892');
    expect(typeof second![0]).toBe('string');
    expect(second![4]).toBe(0.05);
    // 17:30:05 UTC is 01:30:05 the next day in Shanghai.
    expect((second![7] as Date).toISOString()).toBe('2026-02-01T01:30:05.000Z');
    expect(sheet.getCell('E2').numFmt).toBe('0.00');
    // Formula-like text is a plain string cell: exceljs would read a formula back as { formula }.
    expect(third![0]).toBe('=cmd|calc');
    expect(third![1]).toBe('+danger');
  });

  it('writes CSV as UTF-8 with a BOM, neutralising formula-like cells, dates in the requested time zone', async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dir.id, format: 'csv', timeZone: 'America/New_York' });
    expect(link.url).toMatch(/\.csv$/);
    const res = await download(t, link.url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect([...res.body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const records = parse(res.body.toString('utf8'), { bom: true }) as string[][];
    expect(records[0]).toEqual(HEADERS);
    expect(records[1]).toEqual(['0012345', '矿泉水 🍎', '12', '瓶', '12.50', '5', '冷藏', '2026-11-29 11:30:00']);
    expect(records[2]!.slice(0, 5)).toEqual(['6901234567892', 'Long code', '3', '', '0.05']);
    expect(records[2]![7]).toBe('2026-01-31 12:30:05');
    expect(records[3]!.slice(0, 7)).toEqual(["'=cmd|calc", "'+danger", '0', "'-", '', '', "'@SUM(A1)"]);
    expect(records[4]![1]).toBe("'\tTabbed");
    expect(records[4]![6]).toBe("''=quoted");
  });

  it('answers 404 for an unknown, altered or expired link, and for a creator who left the warehouse', async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dir.id, format: 'csv' });
    expect((await download(t, link.url)).status).toBe(200);
    const token = link.url.slice('/files/'.length, -'.csv'.length);
    const altered = `/files/${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}.csv`;
    expect((await download(t, altered)).status).toBe(404);
    expect((await download(t, `/files/${token}.xlsx`)).status).toBe(404);
    expect((await download(t, '/files/nothing-here.csv')).status).toBe(404);
    const notFound = await download(t, altered);
    expect(notFound.json()).toMatchObject({ error: { json: { data: { code: 'NOT_FOUND', httpStatus: 404 } } } });

    const viewer = await addMember(t, owner, dir.id, 'viewer');
    const viewerLink = await viewer.caller.export.create({ kind: 'goods', directoryId: dir.id });
    expect((await download(t, viewerLink.url)).status).toBe(200);
    await owner.caller.directory.removeMember({ directoryId: dir.id, userId: viewer.userId });
    expect((await download(t, viewerLink.url)).status).toBe(404);

    t.advanceClock(10 * 60_000 + 1);
    expect((await download(t, link.url)).status).toBe(404);
  });

  it('refuses a non-member (NOT_FOUND), a goods export without a warehouse and an unknown time zone (BAD_REQUEST)', async () => {
    const stranger = await t.newUser();
    await expectTRPCError(stranger.caller.export.create({ kind: 'goods', directoryId: dir.id }), 'NOT_FOUND');
    await expectTRPCError(stranger.caller.export.create({ kind: 'log', directoryId: dir.id }), 'NOT_FOUND');
    await expectTRPCError(owner.caller.export.create({ kind: 'goods' }), 'BAD_REQUEST');
    await expectTRPCError(owner.caller.export.create({ kind: 'goods', directoryId: dir.id, timeZone: 'Mars/Olympus' }), 'BAD_REQUEST');
    await expectTRPCError(t.caller(null).export.create({ kind: 'log' }), 'UNAUTHORIZED');
  });

  it('a stocktake export needs a stocktake the caller can see (none exist before issue 14 is merged)', async () => {
    await expectTRPCError(owner.caller.export.create({ kind: 'stocktake' }), 'BAD_REQUEST');
    await expectTRPCError(owner.caller.export.create({ kind: 'stocktake', stocktakeId: 1 }), 'NOT_FOUND');
  });

  it('exports the history log.list shows: one warehouse or all, within a time range, newest first', async () => {
    const other = await owner.caller.directory.create({ name: '二号仓' });
    await owner.caller.goods.stockIn({ directoryId: dir.id, code: 'log-a', quantity: 4 });
    await owner.caller.goods.stockIn({ directoryId: other.id, code: 'log-b', quantity: 2 });
    await owner.caller.goods.stockOut({ directoryId: dir.id, code: 'log-a', quantity: 1 });

    const all = await owner.caller.log.list({ limit: 100 });
    const link = await owner.caller.export.create({ kind: 'log', format: 'csv' });
    expect(link.filename).toMatch(/^全部仓库-日志-\d{8}\.csv$/);
    const records = parse((await download(t, link.url)).body.toString('utf8'), { bom: true }) as string[][];
    expect(records[0]![0]).toBe('时间 createdAt');
    expect(records.slice(1).map((r) => r[1])).toEqual(all.items.map((e) => e.type));

    const one = await owner.caller.export.create({ kind: 'log', directoryId: dir.id });
    const { rows } = await xlsxRows((await download(t, one.url)).body);
    const ofDir = await owner.caller.log.list({ directoryId: dir.id, limit: 100 });
    expect(rows.slice(1).map((r) => r[1])).toEqual(ofDir.items.map((e) => e.type));
    expect(rows.slice(1, 3).map((r) => [r[1], r[4], r[5]])).toEqual([
      ['stock.out', -1, 3],
      ['stock.in', 4, 4],
    ]);

    const later = await owner.caller.export.create({ kind: 'log', from: new Date(t.now().getTime() + 60_000), format: 'csv' });
    const none = parse((await download(t, later.url)).body.toString('utf8'), { bom: true }) as string[][];
    expect(none).toHaveLength(1);

    // Another user's history stays out of their file.
    const stranger = await t.newUser();
    const theirs = await stranger.caller.export.create({ kind: 'log', format: 'csv' });
    const strangerRows = parse((await download(t, theirs.url)).body.toString('utf8'), { bom: true }) as string[][];
    expect(strangerRows.slice(1).map((r) => r[1])).toEqual(['directory.create']);
  });

  it('never writes an export token into the log', async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dir.id, format: 'csv' });
    await download(t, link.url);
    await download(t, `${link.url.slice(0, -5)}x.csv`);
    const token = link.url.slice('/files/'.length, -'.csv'.length);
    const lines = t.logLines.join('\n');
    expect(lines).toContain('/files/[redacted]');
    expect(lines).not.toContain(token);
    expect(lines).not.toContain(token.slice(0, -1));
  });
});
