import { describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { expectTRPCError } from '../domain/helpers';
import { addMember } from './helpers';

describe('low stock', () => {
  const t = useTestApp();

  async function goodsWith(u: TestUser, directoryId: number, code: string, quantity: number, minQuantity: number | null) {
    const { goods } = await u.caller.goods.stockIn({ directoryId, code, quantity: Math.max(1, quantity) });
    if (quantity === 0) await u.caller.goods.adjust({ id: goods.id, quantity, reason: 'empty' });
    return minQuantity === null ? { ...goods, quantity } : u.caller.goods.update({ id: goods.id, minQuantity });
  }

  it('goods.lowStock: every warehouse the caller is a member of, lowest quantity − minQuantity first, paged', async () => {
    const owner = await t.newUser();
    const a = (await owner.caller.directory.create({ name: 'low A' })).id;
    const b = (await owner.caller.directory.create({ name: 'low B' })).id;
    const member = await t.newUser();
    await addMember(t, a, member, 'viewer');
    const g1 = await goodsWith(owner, a, 'a1', 1, 5); // -4
    const g2 = await goodsWith(owner, a, 'a2', 3, 3); // 0
    await goodsWith(owner, a, 'a3', 10, 3); // not low
    await goodsWith(owner, a, 'a4', 10, null); // no threshold
    const g5 = await goodsWith(owner, b, 'b1', 2, 4); // -2
    const g6 = await goodsWith(owner, b, 'b2', 1, 5); // -4
    const g7 = await goodsWith(owner, b, 'b3', 0, 0); // 0
    // Someone else's low goods never show.
    const other = await t.newUser();
    await goodsWith(other, (await other.caller.directory.create({ name: 'x' })).id, 'o', 0, 9);

    const all = await owner.caller.goods.lowStock({ limit: 100 });
    expect(all.items.map((g) => g.id)).toEqual([g1.id, g6.id, g5.id, g2.id, g7.id]);
    expect(all.nextCursor).toBeNull();

    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof owner.caller.goods.lowStock>> = await owner.caller.goods.lowStock({ cursor, limit: 2 });
      seen.push(...page.items.map((g) => g.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.items.map((g) => g.id));

    expect((await member.caller.goods.lowStock({})).items.map((g) => g.id)).toEqual([g1.id, g2.id]);
    await expectTRPCError(owner.caller.goods.lowStock({ cursor: 'bogus' }), 'BAD_REQUEST');

    const listed = await owner.caller.goods.list({ directoryId: b, lowStock: true });
    expect(listed.items.map((g) => g.id)).toEqual([g7.id, g6.id, g5.id]);
    expect((await owner.caller.goods.list({ directoryId: b, lowStock: false })).items).toHaveLength(3);
    expect((await owner.caller.directory.get({ id: a })).lowStockCount).toBe(2);

    // A deleted warehouse's goods leave the list.
    await owner.caller.directory.delete({ id: b });
    expect((await owner.caller.goods.lowStock({})).items.map((g) => g.id)).toEqual([g1.id, g2.id]);
  });

  it('both low-stock queries are served by goods_directory_low_stock_index, not a scan of the goods', async () => {
    const u = await t.newUser();
    const dirId = (await u.caller.directory.create({ name: 'big' })).id;
    const now = t.now();
    const rows = Array.from({ length: 3000 }, (_, i) => ({
      user_id: u.userId,
      directory_id: dirId,
      code: `big-${i}`,
      name: `big ${i}`,
      remarks: '',
      quantity: 50,
      min_quantity: i % 100 === 0 ? 60 : null,
      created_at: now,
      last_active_at: now,
      live: 1,
    }));
    for (let i = 0; i < rows.length; i += 400) await t.db('goods').insert(rows.slice(i, i + 400));
    if (t.kind === 'mysql') await t.db.raw('ANALYZE TABLE goods');
    else await t.db.raw('ANALYZE');

    const captured: { sql: string; bindings: unknown[] }[] = [];
    const onQuery = (q: { sql: string; bindings?: unknown[] }) => {
      if (/from [`"]goods[`"]|join [`"]goods[`"]/i.test(q.sql) && /min_quantity/.test(q.sql))
        captured.push({ sql: q.sql, bindings: q.bindings ?? [] });
    };
    t.db.on('query', onQuery);
    try {
      expect((await u.caller.goods.lowStock({ limit: 100 })).items).toHaveLength(30);
      expect((await u.caller.goods.list({ directoryId: dirId, lowStock: true, limit: 100 })).items).toHaveLength(30);
    } finally {
      t.db.off('query', onQuery);
    }
    expect(captured).toHaveLength(2);
    for (const q of captured) {
      if (t.kind === 'mysql') {
        const [plan] = (await t.db.raw(`EXPLAIN ${q.sql}`, q.bindings as never)) as [
          { table: string; key: string | null; type: string; rows: number }[],
        ];
        const goods = plan.find((r) => r.table === 'g' || r.table === 'goods');
        expect(goods, JSON.stringify(plan)).toBeDefined();
        expect(goods!.key, JSON.stringify(plan)).toBe('goods_directory_low_stock_index');
        expect(goods!.type).not.toBe('ALL');
        expect(Number(goods!.rows)).toBeLessThan(300);
      } else {
        const plan = (await t.db.raw(`EXPLAIN QUERY PLAN ${q.sql}`, q.bindings as never)) as { detail: string }[];
        const details = plan.map((p) => p.detail).join('\n');
        expect(details).toMatch(/goods_directory_low_stock_index/);
      }
    }
  });
});
