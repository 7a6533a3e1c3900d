import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { useTestApp, type TestUser } from '../helpers/app';
import { countRows } from './helpers';

/*
 * Real concurrency: on MySQL the pool has enough connections for dozens of transactions to
 * contend for the same rows at once; SQLite serialises writers, which must give the same totals.
 */
describe('stock changes under concurrency', () => {
  const t = useTestApp({ poolMax: 40 });

  async function userWithDirectory(): Promise<TestUser & { dirId: number }> {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name: 'rush' });
    return { ...u, dirId: d.id };
  }

  it('200 stock-outs of 1 against 150 on hand: 150 succeed, 50 PRECONDITION_FAILED, 0 left', async () => {
    const u = await userWithDirectory();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'hot-item', quantity: 150 });

    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => u.caller.goods.stockOut({ directoryId: u.dirId, code: 'hot-item' })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.filter((r) => !(r.reason instanceof TRPCError) || r.reason.code !== 'PRECONDITION_FAILED')).toEqual([]);
    expect(ok).toHaveLength(150);
    expect(failed).toHaveLength(50);

    expect((await u.caller.goods.get({ id: goods.id })).quantity).toBe(0);
    expect(await countRows(t.db, 'logs', { goods_id: goods.id, type: 'stock.out' })).toBe(150);
    // Each success saw a distinct quantity on its way down: no two read the same row state.
    const after = (await t.db('logs').where({ goods_id: goods.id, type: 'stock.out' }).pluck('quantity_after')).map(Number);
    expect(after.sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect((await u.caller.directory.get({ id: u.dirId })).useCount).toBe(151);
  });

  it('100 concurrent stock-ins with one requestId apply once and all get the same result', async () => {
    const u = await userWithDirectory();
    const input = { directoryId: u.dirId, code: 'once', quantity: 7, requestId: 'flaky-network-retry' };
    let claims = 0;
    const onQuery = (q: { sql: string }) => {
      if (/^insert into [`"]request_results[`"]/i.test(q.sql)) claims++;
    };
    t.db.on('query', onQuery);
    const results = await Promise.all(Array.from({ length: 100 }, () => u.caller.goods.stockIn(input))).finally(() =>
      t.db.off('query', onQuery),
    );
    // On MySQL the duplicates really raced for the request row (not just found it already stored).
    if (t.kind === 'mysql') expect(claims).toBeGreaterThan(1);
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toMatchObject({ created: true, goods: { quantity: 7 } });
    expect(await countRows(t.db, 'goods', { directory_id: u.dirId })).toBe(1);
    expect(await countRows(t.db, 'logs', { user_id: u.userId, type: 'stock.in' })).toBe(1);
    expect(await countRows(t.db, 'request_results', { user_id: u.userId })).toBe(1);
    expect((await u.caller.directory.get({ id: u.dirId })).useCount).toBe(1);
  });

  it('concurrent first stock-ins of one new code create one goods row and all succeed', async () => {
    const u = await userWithDirectory();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => u.caller.goods.stockIn({ directoryId: u.dirId, code: 'brand-new', quantity: i + 1 })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.goods.id)).size).toBe(1);
    const goods = await u.caller.goods.scan({ directoryId: u.dirId, code: 'brand-new' });
    expect(goods?.quantity).toBe((30 * 31) / 2);
    expect(await countRows(t.db, 'goods', { directory_id: u.dirId })).toBe(1);
  });

  it('mixed concurrent stock-ins and stock-outs on several codes never lose an update', async () => {
    const u = await userWithDirectory();
    const codes = ['m1', 'm2', 'm3'];
    for (const code of codes) await u.caller.goods.stockIn({ directoryId: u.dirId, code, quantity: 50 });
    const ops = Array.from({ length: 120 }, (_, i) => {
      const code = codes[i % 3]!;
      return i % 2 === 0
        ? u.caller.goods.stockIn({ directoryId: u.dirId, code, quantity: 2 })
        : u.caller.goods.stockOut({ directoryId: u.dirId, code, quantity: 1 });
    });
    await Promise.all(ops);
    for (const code of codes) {
      // 20 ins of 2 and 20 outs of 1 per code.
      expect((await u.caller.goods.scan({ directoryId: u.dirId, code }))?.quantity).toBe(50 + 40 - 20);
    }
    const dir = await u.caller.directory.get({ id: u.dirId });
    expect(dir).toMatchObject({ goodsCount: 3, totalQuantity: 210, useCount: 123 });
  });

  it('pages through 250 goods while more are inserted between pages: every original row exactly once', async () => {
    const u = await userWithDirectory();
    const original = new Set<number>();
    for (let i = 0; i < 250; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, (_, j) => u.caller.goods.stockIn({ directoryId: u.dirId, code: `orig-${i + j}` })),
      );
      for (const r of batch) original.add(r.goods.id);
    }
    expect(original.size).toBe(250);

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    let added = 0;
    do {
      const page: Awaited<ReturnType<typeof u.caller.goods.list>> = await u.caller.goods.list({ directoryId: u.dirId, cursor, limit: 30 });
      seen.push(...page.items.map((g) => g.id));
      cursor = page.nextCursor;
      pages++;
      // Someone keeps scanning new codes in while the list is being read.
      await Promise.all(Array.from({ length: 5 }, () => u.caller.goods.stockIn({ directoryId: u.dirId, code: `late-${added++}` })));
    } while (cursor);

    expect(pages).toBe(9);
    expect(seen).toHaveLength(250);
    expect(new Set(seen)).toEqual(original);
    expect(await countRows(t.db, 'goods', { directory_id: u.dirId })).toBe(250 + added);
  });
});
