import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { expectTRPCError } from '../domain/helpers';
import { addMember, download, seedGoods } from './support';

/** The stocktake-lines export: the same lines stocktake.lines lists, with their differences. */
describe('export.create kind stocktake', () => {
  // A fixed clock, so the counting times in the sheet are known.
  const t = useTestApp({ clock: () => new Date('2026-11-29T02:00:00Z') });
  let owner: TestUser;
  let dirId: number;
  let stocktakeId: number;

  beforeAll(async () => {
    owner = await t.newUser();
    dirId = (await owner.caller.directory.create({ name: '盘点仓' })).id;
    await seedGoods(t, owner, dirId, [
      { code: 'C1', name: '已盘', quantity: 10 },
      { code: 'C2', name: '未盘', quantity: 4 },
    ]);
    stocktakeId = (await owner.caller.stocktake.start({ directoryId: dirId })).id;
    await owner.caller.stocktake.count({ stocktakeId, code: 'C1', quantity: 8, mode: 'set' });
    t.advanceClock(5 * 60_000);
    await owner.caller.stocktake.count({ stocktakeId, code: 'NEW-9', quantity: 3 });
  });

  it('exports every live goods (counted or not) and the unknown codes counted, with differences', async () => {
    const link = await owner.caller.export.create({ kind: 'stocktake', stocktakeId, format: 'csv' });
    expect(link.filename).toMatch(new RegExp(`^盘点仓-盘点${stocktakeId}-\\d{8}\\.csv$`));
    const res = await download(t, link.url);
    expect(res.status).toBe(200);
    const records = parse(res.body.toString('utf8'), { bom: true }) as string[][];
    expect(records).toEqual([
      ['条码 code', '名称 name', '账面 expected', '实盘 counted', '差异 difference', '盘点时间 countedAt', '盘点人 countedBy'],
      ['C1', '已盘', '10', '8', '-2', '2026-11-29 10:00:00', String(owner.userId)],
      ['C2', '未盘', '4', '', '', '', ''],
      ['NEW-9', '', '0', '3', '3', '2026-11-29 10:05:00', String(owner.userId)],
    ]);
    // The same lines the API lists.
    const lines = await owner.caller.stocktake.lines({ id: stocktakeId, limit: 100 });
    expect(lines.items.map((l) => l.code).sort()).toEqual(['C1', 'C2', 'NEW-9']);
  });

  it('is NOT_FOUND for a non-member, and any member may export', async () => {
    const stranger = await t.newUser();
    await expectTRPCError(stranger.caller.export.create({ kind: 'stocktake', stocktakeId }), 'NOT_FOUND');
    const viewer = await addMember(t, owner, dirId, 'viewer');
    const link = await viewer.caller.export.create({ kind: 'stocktake', stocktakeId });
    expect((await download(t, link.url)).status).toBe(200);
  });
});
