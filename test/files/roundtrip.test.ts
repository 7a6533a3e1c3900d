import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { countRows } from '../domain/helpers';
import { download, type SeedGoods, seedGoods, upload } from './support';

/** Data a spreadsheet program likes to mangle. */
const AWKWARD: SeedGoods[] = [
  { code: '0012345', name: '前导零', quantity: 1, price: 1999 },
  { code: '6901234567892', name: '长条码', quantity: 2_147_483_647, price: 0, unit: '件' },
  { code: '12345678901234567890', name: 'Longer than a double', quantity: 0, price: 100_000_000, minQuantity: 1_000_000 },
  { code: '1e5', name: '1e5', quantity: 3, minQuantity: 0 },
  { code: '🍎🍌', name: '水果 🍎 emoji', quantity: 4, unit: '箱', price: 5, remarks: '第一行\n第二行, "引号"' },
  { code: '=HYPERLINK("http://evil")', name: '+SUM(1,2)', quantity: 5, unit: '-', remarks: '@cmd' },
  { code: "'=quoted", name: "'single", quantity: 6, remarks: '-1 first, a\ttab inside' },
  { code: 'TRUE', name: '2026-11-29', quantity: 7, price: 10, remarks: '0.10' },
  { code: '中文条码', name: '名'.repeat(100), quantity: 8, remarks: 'r'.repeat(1000), unit: '十个字的单位名称啊' },
];

describe('a goods sheet exported and imported again changes nothing', () => {
  let owner: TestUser;
  let dirId: number;

  const t = useTestApp();
  beforeAll(async () => {
    owner = await t.newUser();
    dirId = (await owner.caller.directory.create({ name: '往返 🔁' })).id;
    await seedGoods(t, owner, dirId, AWKWARD);
  });

  for (const format of ['xlsx', 'csv'] as const) {
    it(`as ${format}`, async () => {
      const before = await owner.caller.goods.list({ directoryId: dirId, limit: 100 });
      const link = await owner.caller.export.create({ kind: 'goods', directoryId: dirId, format });
      const file = await download(t, link.url);
      expect(file.status).toBe(200);

      const res = await upload(t, { token: owner.token, directoryId: dirId, file: { name: link.filename, data: file.body } });
      expect(res.status).toBe(200);
      const importId = res.body.importId!;
      const summary = await owner.caller.import.get({ importId });
      const rows = await owner.caller.import.rows({ importId, limit: 100 });
      expect(rows.items.filter((r) => r.action !== 'unchanged')).toEqual([]);
      expect(summary).toMatchObject({
        rowCount: AWKWARD.length,
        unchangedCount: AWKWARD.length,
        createCount: 0,
        updateCount: 0,
        errorCount: 0,
      });
      expect(rows.items.map((r) => r.code)).toEqual(AWKWARD.map((g) => g.code));

      const logsBefore = await countRows(t.db, 'logs');
      expect(await owner.caller.import.confirm({ importId })).toEqual({ created: 0, updated: 0, logged: 0 });
      expect(await countRows(t.db, 'logs')).toBe(logsBefore);
      const after = await owner.caller.goods.list({ directoryId: dirId, limit: 100 });
      expect(after.items.map(({ lastActiveAt: _l, ...g }) => g)).toEqual(before.items.map(({ lastActiveAt: _l, ...g }) => g));
    });
  }
});
