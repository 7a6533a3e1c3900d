import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_TYPES } from '../../src/history/history';
import { createTestApp, type TestApp } from '../helpers/app';
import { expectInvalid, expectTRPCError } from './helpers';

describe('log router', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('records every kind of change, newest first, with snapshots of names', async () => {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name: '一号' });
    await u.caller.directory.rename({ id: d.id, name: '二号' });
    const { goods } = await u.caller.goods.stockIn({ directoryId: d.id, code: 'L1', name: '饼干', quantity: 10 });
    await u.caller.goods.stockOut({ directoryId: d.id, code: 'L1', quantity: 4 });
    await u.caller.goods.update({ id: goods.id, name: '曲奇' });
    await u.caller.goods.delete({ id: goods.id });
    await u.caller.directory.delete({ id: d.id });

    const page = await u.caller.log.list({ directoryId: d.id });
    expect(page.nextCursor).toBeNull();
    expect(page.items.map((e) => [e.type, e.directoryName, e.goodsName, e.delta, e.quantityAfter])).toEqual([
      ['directory.delete', '二号', null, null, null],
      ['goods.delete', '二号', '曲奇', null, null],
      ['goods.update', '二号', '曲奇', null, null],
      ['stock.out', '二号', '饼干', -4, 6],
      ['stock.in', '二号', '饼干', 10, 10],
      ['directory.rename', '二号', null, null, null],
      ['directory.create', '一号', null, null, null],
    ]);
    for (const e of page.items) {
      expect(e.createdAt).toBeInstanceOf(Date);
      expect(e.directoryId).toBe(d.id);
    }
    const ids = page.items.map((e) => e.id);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
    // The directory and goods types; stock.adjust, stock.count and transfer.* have their tests in
    // test/inventory, member.* theirs with the team's procedures.
    const kinds = ['directory.create', 'directory.rename', 'directory.delete', 'stock.in', 'stock.out', 'goods.update', 'goods.delete'];
    expect(new Set(page.items.map((e) => e.type))).toEqual(new Set(kinds));
    expect(HISTORY_TYPES).toEqual(expect.arrayContaining(kinds));

    // The whole history also includes the `默认` directory's creation.
    const all = await u.caller.log.list({});
    expect(all.items).toHaveLength(8);
    expect(all.items.at(-1)).toMatchObject({ type: 'directory.create', directoryName: '默认' });
    expect(await u.caller.log.list()).toEqual(all);
  });

  it('filters by goods and type, and pages with a cursor', async () => {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name: 'paged' });
    const a = await u.caller.goods.stockIn({ directoryId: d.id, code: 'a' });
    const b = await u.caller.goods.stockIn({ directoryId: d.id, code: 'b' });
    for (let i = 0; i < 30; i++) {
      await u.caller.goods.stockIn({ directoryId: d.id, code: i % 2 ? 'a' : 'b' });
    }
    await u.caller.goods.stockOut({ directoryId: d.id, code: 'a', quantity: 2 });

    const aLog = await u.caller.log.list({ goodsId: a.goods.id, limit: 100 });
    expect(aLog.items).toHaveLength(17);
    expect(aLog.items.every((e) => e.goodsId === a.goods.id)).toBe(true);
    expect(aLog.items[0]).toMatchObject({ type: 'stock.out', delta: -2, quantityAfter: 14 });

    const outs = await u.caller.log.list({ type: 'stock.out' });
    expect(outs.items).toHaveLength(1);
    const bIns = await u.caller.log.list({ goodsId: b.goods.id, type: 'stock.in', limit: 100 });
    expect(bIns.items.map((e) => e.quantityAfter)).toEqual(Array.from({ length: 16 }, (_, i) => 16 - i));

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof u.caller.log.list>> = await u.caller.log.list({ directoryId: d.id, limit: 7, cursor });
      expect(page.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(34);
    expect(new Set(seen).size).toBe(34);
    expect([...seen].sort((x, y) => y - x)).toEqual(seen);
  });

  it('validates filters and paging', async () => {
    const u = await t.newUser();
    // @ts-expect-error not a log type
    await expectInvalid(u.caller.log.list({ type: 'stock.sideways' }), 'type');
    await expectInvalid(u.caller.log.list({ directoryId: 0 }), 'directoryId');
    await expectInvalid(u.caller.log.list({ goodsId: 1.5 }), 'goodsId');
    await expectInvalid(u.caller.log.list({ limit: 101 }), 'limit');
    await expectTRPCError(u.caller.log.list({ cursor: 'not-a-cursor' }), 'BAD_REQUEST');
    // Ids that never existed give an empty page.
    expect(await u.caller.log.list({ directoryId: 999999 })).toEqual({ items: [], nextCursor: null });
  });
});
