import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { countRows, expectTRPCError } from '../domain/helpers';
import { addMember, inventorySnapshot, settle } from './helpers';

describe('stocktake', () => {
  const t = useTestApp({ poolMax: 30 });

  async function warehouse(name = 'shelf'): Promise<TestUser & { dirId: number }> {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name });
    return { ...u, dirId: d.id };
  }

  it('start → count → lines → complete: counted goods set, unknown codes created, one stock.count per change', async () => {
    const u = await warehouse();
    const a = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'A', quantity: 10 })).goods;
    const b = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'B', quantity: 5 })).goods;
    const c = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'C', quantity: 7 })).goods;

    const st = await u.caller.stocktake.start({ directoryId: u.dirId, note: '月底盘点' });
    expect(st).toMatchObject({
      directoryId: u.dirId,
      status: 'open',
      note: '月底盘点',
      startedBy: u.userId,
      finishedAt: null,
      lineCount: 3,
      countedCount: 0,
    });
    await expectTRPCError(u.caller.stocktake.start({ directoryId: u.dirId }), 'CONFLICT');

    for (let i = 0; i < 8; i++) await u.caller.stocktake.count({ stocktakeId: st.id, code: 'A' });
    const lineB = await u.caller.stocktake.count({ stocktakeId: st.id, code: 'B', quantity: 5, mode: 'set' });
    expect(lineB).toMatchObject({ goodsId: b.id, code: 'B', expected: 5, counted: 5, difference: 0, countedBy: u.userId });
    const unknown = await u.caller.stocktake.count({ stocktakeId: st.id, code: 'NEW-1', quantity: 3 });
    expect(unknown).toMatchObject({ goodsId: null, code: 'NEW-1', expected: 0, counted: 3, difference: 3 });
    const set = await u.caller.stocktake.count({ stocktakeId: st.id, code: 'A', quantity: 9, mode: 'set' });
    expect(set).toMatchObject({ goodsId: a.id, counted: 9, expected: 10, difference: -1 });

    expect(await u.caller.stocktake.get({ id: st.id })).toMatchObject({ lineCount: 4, countedCount: 3 });
    const all = await u.caller.stocktake.lines({ id: st.id });
    expect(all.items.map((l) => l.code)).toEqual(['C', 'B', 'A', 'NEW-1']);
    expect(all.items.find((l) => l.code === 'C')).toMatchObject({
      goodsId: c.id,
      expected: 7,
      counted: null,
      difference: null,
      countedAt: null,
    });
    expect((await u.caller.stocktake.lines({ id: st.id, filter: 'counted' })).items.map((l) => l.code)).toEqual(['B', 'A', 'NEW-1']);
    expect((await u.caller.stocktake.lines({ id: st.id, filter: 'uncounted' })).items.map((l) => l.code)).toEqual(['C']);
    expect((await u.caller.stocktake.lines({ id: st.id, filter: 'different' })).items.map((l) => l.code)).toEqual(['A', 'NEW-1']);

    // Paging one line at a time walks both lists exactly once.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof u.caller.stocktake.lines>> = await u.caller.stocktake.lines({ id: st.id, cursor, limit: 1 });
      seen.push(...page.items.map((l) => l.code));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['C', 'B', 'A', 'NEW-1']);

    const done = await u.caller.stocktake.complete({ id: st.id });
    expect(done.adjusted).toBe(2);
    expect(done.stocktake).toMatchObject({ status: 'applied', lineCount: 4, countedCount: 3 });
    expect(done.stocktake.finishedAt).toBeInstanceOf(Date);
    expect((await u.caller.goods.get({ id: a.id })).quantity).toBe(9);
    expect((await u.caller.goods.get({ id: b.id })).quantity).toBe(5);
    expect((await u.caller.goods.get({ id: c.id })).quantity).toBe(7);
    const created = await u.caller.goods.scan({ directoryId: u.dirId, code: 'NEW-1' });
    expect(created).toMatchObject({ quantity: 3, name: 'NEW-1' });

    const log = (await u.caller.log.list({ directoryId: u.dirId, type: 'stock.count' })).items;
    expect(log.map((e) => [e.goodsId, e.delta, e.quantityAfter, e.note]).sort()).toEqual(
      [
        [a.id, -1, 9, '月底盘点'],
        [created!.id, 3, 3, '月底盘点'],
      ].sort(),
    );
    // Completing twice, or counting into an applied stocktake, is refused and changes nothing.
    const before = await inventorySnapshot(t);
    await expectTRPCError(u.caller.stocktake.complete({ id: st.id }), 'PRECONDITION_FAILED');
    await expectTRPCError(u.caller.stocktake.count({ stocktakeId: st.id, code: 'A' }), 'PRECONDITION_FAILED');
    await expectTRPCError(u.caller.stocktake.cancel({ id: st.id }), 'PRECONDITION_FAILED');
    expect(await inventorySnapshot(t)).toEqual(before);
    // A new stocktake can start once the last one is closed.
    expect((await u.caller.stocktake.start({ directoryId: u.dirId })).status).toBe('open');
    const list = await u.caller.stocktake.list({ directoryId: u.dirId });
    expect(list.items.map((s) => s.status)).toEqual(['open', 'applied']);
  });

  it('a stock-out (and a stock-in) during the count is not undone by complete', async () => {
    const u = await warehouse();
    const g = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'sold', quantity: 20 })).goods;
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    // Counted 18 on the shelf (2 missing), then 3 sold and 1 delivered before completing.
    await u.caller.stocktake.count({ stocktakeId: st.id, code: 'sold', quantity: 18, mode: 'set' });
    await u.caller.goods.stockOut({ directoryId: u.dirId, code: 'sold', quantity: 3 });
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'sold', quantity: 1 });
    const done = await u.caller.stocktake.complete({ id: st.id });
    expect(done.adjusted).toBe(1);
    expect((await u.caller.goods.get({ id: g.id })).quantity).toBe(18 - 3 + 1);
    const [entry] = (await u.caller.log.list({ goodsId: g.id, type: 'stock.count' })).items;
    expect(entry).toMatchObject({ delta: -2, quantityAfter: 16 });
    // The history adds up to the quantity on hand.
    const sum = (await t.db('logs').where({ goods_id: g.id }).sum({ s: 'delta' }).first()) as { s: number | string };
    expect(Number(sum.s)).toBe(16);
  });

  it("uncounted: 'zero' zeroes the goods nobody counted; 'keep' leaves them; no entry for unchanged quantities", async () => {
    const u = await warehouse();
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'counted', quantity: 4 });
    const missing = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'missing', quantity: 6 })).goods;
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'empty', quantity: 1 });
    await u.caller.goods.stockOut({ directoryId: u.dirId, code: 'empty', quantity: 1 });
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    await u.caller.stocktake.count({ stocktakeId: st.id, code: 'counted', quantity: 4 });
    // An unknown code counted zero has nothing to create.
    await u.caller.stocktake.count({ stocktakeId: st.id, code: 'ghost', quantity: 0 });
    const done = await u.caller.stocktake.complete({ id: st.id, uncounted: 'zero' });
    expect(done.adjusted).toBe(1);
    expect((await u.caller.goods.get({ id: missing.id })).quantity).toBe(0);
    expect(await u.caller.goods.scan({ directoryId: u.dirId, code: 'ghost' })).toBeNull();
    expect(await countRows(t.db, 'logs', { directory_id: u.dirId, type: 'stock.count' })).toBe(1);
  });

  it('cancel changes nothing on the books and frees the warehouse for a new stocktake', async () => {
    const u = await warehouse();
    const g = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'x', quantity: 3 })).goods;
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    await u.caller.stocktake.count({ stocktakeId: st.id, code: 'x', quantity: 1 });
    await u.caller.stocktake.count({ stocktakeId: st.id, code: 'y', quantity: 1 });
    const logs = await countRows(t.db, 'logs', { directory_id: u.dirId });
    const cancelled = await u.caller.stocktake.cancel({ id: st.id });
    expect(cancelled).toMatchObject({ status: 'cancelled', lineCount: 2, countedCount: 2 });
    expect((await u.caller.goods.get({ id: g.id })).quantity).toBe(3);
    expect(await u.caller.goods.scan({ directoryId: u.dirId, code: 'y' })).toBeNull();
    expect(await countRows(t.db, 'logs', { directory_id: u.dirId })).toBe(logs);
    await expectTRPCError(u.caller.stocktake.complete({ id: st.id }), 'PRECONDITION_FAILED');
    expect((await u.caller.stocktake.start({ directoryId: u.dirId })).status).toBe('open');
  });

  it('two members scanning the same codes at once, 100 scans per code: counted = 100 exactly', async () => {
    const u = await warehouse();
    const clerk = await t.newUser();
    await addMember(t, u.dirId, clerk, 'clerk');
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'busy', quantity: 1 });
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    const scans = Array.from({ length: 100 }, (_, i) => [
      u.caller.stocktake.count({ stocktakeId: st.id, code: i % 2 ? 'busy' : 'fresh' }),
      clerk.caller.stocktake.count({ stocktakeId: st.id, code: i % 2 ? 'busy' : 'fresh' }),
    ]).flat();
    const { ok, errors } = await settle(scans);
    expect(errors).toEqual({});
    expect(ok).toHaveLength(200);
    const lines = (await u.caller.stocktake.lines({ id: st.id, filter: 'counted' })).items;
    expect(lines.map((l) => [l.code, l.counted]).sort()).toEqual([
      ['busy', 100],
      ['fresh', 100],
    ]);
  });

  it('one session sending 100 concurrent adds of one code: counted = 100 exactly; a requestId counts once', async () => {
    const u = await warehouse();
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    const { errors } = await settle(Array.from({ length: 100 }, () => u.caller.stocktake.count({ stocktakeId: st.id, code: 'same' })));
    expect(errors).toEqual({});
    const retry = { stocktakeId: st.id, code: 'same', quantity: 5, requestId: 'scan-42' };
    const [first, second] = await Promise.all([u.caller.stocktake.count(retry), u.caller.stocktake.count(retry)]);
    expect(second).toEqual(first);
    expect((await u.caller.stocktake.lines({ id: st.id, filter: 'counted' })).items[0]!.counted).toBe(105);
    const done = { id: st.id, requestId: 'finish-1' };
    const [d1, d2] = await Promise.all([u.caller.stocktake.complete(done), u.caller.stocktake.complete(done)]);
    expect(d2).toEqual(d1);
    expect(await countRows(t.db, 'logs', { directory_id: u.dirId, type: 'stock.count' })).toBe(1);
  });

  it('completing 1,500 lines is a handful of statements, not one per line', async () => {
    const u = await warehouse();
    const now = t.now();
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      user_id: u.userId,
      directory_id: u.dirId,
      code: `bulk-${i}`,
      name: `bulk ${i}`,
      remarks: '',
      quantity: 10,
      created_at: now,
      last_active_at: now,
      live: 1,
    }));
    for (let i = 0; i < rows.length; i += 200) await t.db('goods').insert(rows.slice(i, i + 200));
    const st = await u.caller.stocktake.start({ directoryId: u.dirId });
    const lines = [
      ...rows.map((r, i) => ({
        stocktake_id: st.id,
        code: r.code,
        counted: i % 2 ? 10 : 11,
        expected: 10,
        counted_at: now,
        counted_by: u.userId,
      })),
      ...Array.from({ length: 500 }, (_, i) => ({
        stocktake_id: st.id,
        code: `unknown-${i}`,
        counted: 2,
        expected: 0,
        counted_at: now,
        counted_by: u.userId,
      })),
    ];
    for (let i = 0; i < lines.length; i += 200) await t.db('stocktake_lines').insert(lines.slice(i, i + 200));
    let statements = 0;
    const onQuery = () => statements++;
    t.db.on('query', onQuery);
    const done = await u.caller.stocktake.complete({ id: st.id }).finally(() => t.db.off('query', onQuery));
    expect(done.adjusted).toBe(500 + 500);
    expect(statements).toBeLessThan(25);
    expect(await countRows(t.db, 'goods', { directory_id: u.dirId, live: 1 })).toBe(1500);
    const total = (await t.db('goods').where({ directory_id: u.dirId }).sum({ s: 'quantity' }).first()) as { s: number | string };
    expect(Number(total.s)).toBe(500 * 11 + 500 * 10 + 500 * 2);
    expect(await countRows(t.db, 'logs', { directory_id: u.dirId, type: 'stock.count' })).toBe(1000);
  });

  describe('roles', () => {
    let owner: TestUser & { dirId: number };
    const as: Record<string, TestUser> = {};
    let stId: number;
    beforeAll(async () => {
      owner = await warehouse('team');
      await owner.caller.goods.stockIn({ directoryId: owner.dirId, code: 'r', quantity: 2 });
      for (const role of ['manager', 'clerk', 'viewer'] as const) {
        as[role] = await t.newUser();
        await addMember(t, owner.dirId, as[role], role);
      }
      as.stranger = await t.newUser();
      stId = (await owner.caller.stocktake.start({ directoryId: owner.dirId })).id;
    });

    const refusals: [string, string, (u: TestUser) => Promise<unknown>][] = [
      ['viewer', 'FORBIDDEN', (u) => u.caller.stocktake.count({ stocktakeId: stId, code: 'r' })],
      ['clerk', 'FORBIDDEN', (u) => u.caller.stocktake.complete({ id: stId })],
      ['clerk', 'FORBIDDEN', (u) => u.caller.stocktake.cancel({ id: stId })],
      ['clerk', 'FORBIDDEN', (u) => u.caller.stocktake.start({ directoryId: owner.dirId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.count({ stocktakeId: stId, code: 'r' })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.complete({ id: stId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.cancel({ id: stId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.start({ directoryId: owner.dirId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.get({ id: stId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.lines({ id: stId })],
      ['stranger', 'NOT_FOUND', (u) => u.caller.stocktake.list({ directoryId: owner.dirId })],
    ];
    it.each(refusals)('%s → %s, nothing changed (#%#)', async (role, code, call) => {
      const before = await inventorySnapshot(t);
      await expectTRPCError(call(as[role]!), code as 'FORBIDDEN');
      expect(await inventorySnapshot(t)).toEqual(before);
    });

    it('a viewer reads, a clerk counts, a manager completes', async () => {
      expect((await as.viewer!.caller.stocktake.get({ id: stId })).status).toBe('open');
      expect((await as.viewer!.caller.stocktake.lines({ id: stId })).items).toHaveLength(1);
      expect((await as.viewer!.caller.stocktake.list({ directoryId: owner.dirId })).items).toHaveLength(1);
      await as.clerk!.caller.stocktake.count({ stocktakeId: stId, code: 'r', quantity: 1 });
      expect((await as.manager!.caller.stocktake.complete({ id: stId })).adjusted).toBe(1);
    });
  });
});
