import { describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { countRows, expectInvalid, expectTRPCError } from '../domain/helpers';
import { addMember, inventorySnapshot } from './helpers';

describe('goods details, directory figures and goods.adjust', () => {
  const t = useTestApp();

  async function warehouse(): Promise<TestUser & { dirId: number }> {
    const u = await t.newUser();
    return { ...u, dirId: (await u.caller.directory.create({ name: 'details' })).id };
  }

  it('stockIn sets unit and price; a later stockIn overwrites them only when given', async () => {
    const u = await warehouse();
    const first = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'p', unit: '瓶', price: 250, quantity: 2 });
    expect(first.goods).toMatchObject({ unit: '瓶', price: 250, minQuantity: null });
    const kept = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'p', unit: '', quantity: 1 });
    expect(kept.goods).toMatchObject({ unit: '瓶', price: 250, quantity: 3 });
    const changed = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'p', unit: '箱', price: 0 });
    expect(changed.goods).toMatchObject({ unit: '箱', price: 0, quantity: 4 });
    expect(await u.caller.goods.get({ id: first.goods.id })).toEqual(changed.goods);
  });

  it('update sets and clears unit, price and minQuantity', async () => {
    const u = await warehouse();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'u', quantity: 3 });
    expect(await u.caller.goods.update({ id: goods.id, unit: 'kg', price: 1200, minQuantity: 5 })).toMatchObject({
      unit: 'kg',
      price: 1200,
      minQuantity: 5,
      name: goods.name,
    });
    expect(await u.caller.goods.update({ id: goods.id, unit: null, price: null, minQuantity: null })).toMatchObject({
      unit: '',
      price: null,
      minQuantity: null,
    });
    expect(await countRows(t.db, 'logs', { goods_id: goods.id, type: 'goods.update' })).toBe(2);
  });

  it('validates bounds: unit ≤ 10 chars, price 0..100,000,000 fen, minQuantity 0..1,000,000', async () => {
    const u = await warehouse();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'v' });
    await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'v', unit: '12345678901' }), 'unit');
    await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'v', price: 100_000_001 }), 'price');
    await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'v', price: 1.5 }), 'price');
    await expectInvalid(u.caller.goods.update({ id: goods.id, price: -1 }), 'price');
    await expectInvalid(u.caller.goods.update({ id: goods.id, minQuantity: 1_000_001 }), 'minQuantity');
    await expectInvalid(u.caller.goods.update({ id: goods.id }));
    expect(
      await u.caller.goods.update({ id: goods.id, unit: '一二三四五六七八九十', price: 100_000_000, minQuantity: 1_000_000 }),
    ).toMatchObject({
      unit: '一二三四五六七八九十',
      price: 100_000_000,
      minQuantity: 1_000_000,
    });
  });

  it('Directory.totalValue and lowStockCount cover live goods only', async () => {
    const u = await warehouse();
    const a = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'a', price: 150, quantity: 4 })).goods;
    const b = (await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'b', price: 1000, quantity: 2 })).goods;
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'c', quantity: 9 });
    await u.caller.goods.update({ id: a.id, minQuantity: 4 });
    await u.caller.goods.update({ id: b.id, minQuantity: 1 });
    expect(await u.caller.directory.get({ id: u.dirId })).toMatchObject({ totalValue: 600 + 2000, lowStockCount: 1, totalQuantity: 15 });
    await u.caller.goods.delete({ id: a.id });
    const [listed] = (await u.caller.directory.list({})).filter((d) => d.id === u.dirId);
    expect(listed).toMatchObject({ totalValue: 2000, lowStockCount: 0, goodsCount: 2 });
    const other = (await u.caller.directory.list({})).find((d) => d.id !== u.dirId)!;
    expect(other).toMatchObject({ totalValue: 0, lowStockCount: 0 });
  });

  it('adjust sets the quantity, logs stock.adjust with the delta and reason; an unchanged quantity logs nothing', async () => {
    const u = await warehouse();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'adj', quantity: 10 });
    const r = await u.caller.goods.adjust({ id: goods.id, quantity: 7, reason: '破损 3 件' });
    expect(r.goods).toMatchObject({ id: goods.id, quantity: 7 });
    const [entry] = (await u.caller.log.list({ goodsId: goods.id, type: 'stock.adjust' })).items;
    expect(entry).toMatchObject({ delta: -3, quantityAfter: 7, note: '破损 3 件', actorId: u.userId });
    expect((await u.caller.goods.adjust({ id: goods.id, quantity: 12, reason: '盘盈' })).goods.quantity).toBe(12);
    const logs = await countRows(t.db, 'logs', { goods_id: goods.id });
    expect((await u.caller.goods.adjust({ id: goods.id, quantity: 12, reason: 'same' })).goods.quantity).toBe(12);
    expect(await countRows(t.db, 'logs', { goods_id: goods.id })).toBe(logs);
    await expectInvalid(u.caller.goods.adjust({ id: goods.id, quantity: -1, reason: 'x' }), 'quantity');
    await expectInvalid(u.caller.goods.adjust({ id: goods.id, quantity: 1, reason: '  ' }), 'reason');
  });

  it('adjust with a requestId applies once', async () => {
    const u = await warehouse();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'once', quantity: 10 });
    const input = { id: goods.id, quantity: 4, reason: 'fix', requestId: 'adj-1' };
    const [x, y] = await Promise.all([u.caller.goods.adjust(input), u.caller.goods.adjust(input)]);
    expect(y).toEqual(x);
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'once', quantity: 1 });
    expect((await u.caller.goods.adjust(input)).goods.quantity).toBe(4);
    expect((await u.caller.goods.get({ id: goods.id })).quantity).toBe(5);
    expect(await countRows(t.db, 'logs', { goods_id: goods.id, type: 'stock.adjust' })).toBe(1);
  });

  it('adjust and update need a manager: a clerk gets FORBIDDEN, a stranger NOT_FOUND, and nothing changes', async () => {
    const u = await warehouse();
    const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'role', quantity: 10 });
    const clerk = await t.newUser();
    const manager = await t.newUser();
    const stranger = await t.newUser();
    await addMember(t, u.dirId, clerk, 'clerk');
    await addMember(t, u.dirId, manager, 'manager');
    const before = await inventorySnapshot(t);
    await expectTRPCError(clerk.caller.goods.adjust({ id: goods.id, quantity: 1, reason: 'x' }), 'FORBIDDEN');
    await expectTRPCError(clerk.caller.goods.update({ id: goods.id, price: 1 }), 'FORBIDDEN');
    await expectTRPCError(stranger.caller.goods.adjust({ id: goods.id, quantity: 1, reason: 'x', requestId: 's-1' }), 'NOT_FOUND');
    await expectTRPCError(stranger.caller.goods.update({ id: goods.id, minQuantity: 1 }), 'NOT_FOUND');
    expect(await inventorySnapshot(t)).toEqual(before);
    expect((await manager.caller.goods.adjust({ id: goods.id, quantity: 1, reason: 'x' })).goods.quantity).toBe(1);
  });
});
