import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { countRows, expectInvalid, expectTRPCError } from '../domain/helpers';
import { addMember, inventorySnapshot, settle } from './helpers';

describe('goods.transfer', () => {
  const t = useTestApp({ poolMax: 40 });

  async function twoWarehouses(): Promise<TestUser & { a: number; b: number }> {
    const u = await t.newUser();
    const a = (await u.caller.directory.create({ name: 'A 仓' })).id;
    const b = (await u.caller.directory.create({ name: 'B 仓' })).id;
    return { ...u, a, b };
  }

  async function historyOf(goodsId: number) {
    return (await t.db('logs').where({ goods_id: goodsId }).sum({ s: 'delta' }).first()) as { s: number | string | null };
  }

  it('moves stock, creating the goods in the destination with the same details; paired history entries', async () => {
    const u = await twoWarehouses();
    const src = (
      await u.caller.goods.stockIn({ directoryId: u.a, code: 'T-1', name: '茶叶', remarks: '绿茶', unit: '盒', price: 3999, quantity: 10 })
    ).goods;
    const r = await u.caller.goods.transfer({ fromDirectoryId: u.a, toDirectoryId: u.b, code: 'T-1', quantity: 4 });
    expect(r.created).toBe(true);
    expect(r.from).toMatchObject({ id: src.id, quantity: 6 });
    expect(r.to).toMatchObject({ directoryId: u.b, code: 'T-1', name: '茶叶', remarks: '绿茶', unit: '盒', price: 3999, quantity: 4 });
    expect(await u.caller.goods.get({ id: r.to.id })).toEqual(r.to);

    const again = await u.caller.goods.transfer({ fromDirectoryId: u.b, toDirectoryId: u.a, code: 'T-1', quantity: 1 });
    expect(again).toMatchObject({ created: false, from: { id: r.to.id, quantity: 3 }, to: { id: src.id, quantity: 7 } });

    const out = (await u.caller.log.list({ directoryId: u.a, type: 'transfer.out' })).items[0];
    const into = (await u.caller.log.list({ directoryId: u.b, type: 'transfer.in' })).items[0];
    expect(out).toMatchObject({
      goodsId: src.id,
      delta: -4,
      quantityAfter: 6,
      counterpartDirectoryId: u.b,
      counterpartDirectoryName: 'B 仓',
      actorId: u.userId,
    });
    expect(into).toMatchObject({
      goodsId: r.to.id,
      delta: 4,
      quantityAfter: 4,
      counterpartDirectoryId: u.a,
      counterpartDirectoryName: 'A 仓',
    });
    expect((await u.caller.directory.get({ id: u.a })).useCount).toBe(3);
    expect((await u.caller.directory.get({ id: u.b })).useCount).toBe(2);
  });

  it('too little on hand → PRECONDITION_FAILED and nothing changes; unknown code → NOT_FOUND; same warehouse → BAD_REQUEST', async () => {
    const u = await twoWarehouses();
    await u.caller.goods.stockIn({ directoryId: u.a, code: 'few', quantity: 2 });
    const before = await inventorySnapshot(t);
    await expectTRPCError(
      u.caller.goods.transfer({ fromDirectoryId: u.a, toDirectoryId: u.b, code: 'few', quantity: 3 }),
      'PRECONDITION_FAILED',
    );
    await expectTRPCError(u.caller.goods.transfer({ fromDirectoryId: u.a, toDirectoryId: u.b, code: 'nope' }), 'NOT_FOUND');
    await expectInvalid(u.caller.goods.transfer({ fromDirectoryId: u.a, toDirectoryId: u.a, code: 'few' }), 'toDirectoryId');
    expect(await inventorySnapshot(t)).toEqual(before);
  });

  it('a requestId applies once', async () => {
    const u = await twoWarehouses();
    await u.caller.goods.stockIn({ directoryId: u.a, code: 'rid', quantity: 5 });
    const input = { fromDirectoryId: u.a, toDirectoryId: u.b, code: 'rid', quantity: 2, requestId: 'move-1' };
    const results = await Promise.all([u.caller.goods.transfer(input), u.caller.goods.transfer(input), u.caller.goods.transfer(input)]);
    for (const r of results) expect(r).toEqual(results[0]);
    expect((await u.caller.goods.scan({ directoryId: u.a, code: 'rid' }))?.quantity).toBe(3);
    expect((await u.caller.goods.scan({ directoryId: u.b, code: 'rid' }))?.quantity).toBe(2);
  });

  it('40 concurrent transfers of 1 from a goods holding 30: exactly 30 succeed; both warehouses and the history agree', async () => {
    const u = await twoWarehouses();
    const src = (await u.caller.goods.stockIn({ directoryId: u.a, code: 'rush', quantity: 30 })).goods;
    const { ok, errors } = await settle(
      Array.from({ length: 40 }, () => u.caller.goods.transfer({ fromDirectoryId: u.a, toDirectoryId: u.b, code: 'rush' })),
    );
    expect(errors).toEqual({ PRECONDITION_FAILED: 10 });
    expect(ok).toHaveLength(30);
    expect(ok.filter((r) => r.created)).toHaveLength(1);
    const dest = await u.caller.goods.scan({ directoryId: u.b, code: 'rush' });
    expect((await u.caller.goods.get({ id: src.id })).quantity).toBe(0);
    expect(dest?.quantity).toBe(30);
    expect(Number((await historyOf(src.id)).s)).toBe(0);
    expect(Number((await historyOf(dest!.id)).s)).toBe(30);
    expect(await countRows(t.db, 'logs', { goods_id: src.id, type: 'transfer.out' })).toBe(30);
    expect(await countRows(t.db, 'logs', { goods_id: dest!.id, type: 'transfer.in' })).toBe(30);
    const outAfter = (await t.db('logs').where({ goods_id: src.id, type: 'transfer.out' }).pluck('quantity_after')).map(Number);
    expect(outAfter.sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('crossing A→B and B→A transfers under load: no error reaches a client, totals are kept', async () => {
    const u = await twoWarehouses();
    const clerk = await t.newUser();
    await addMember(t, u.a, clerk, 'clerk');
    await addMember(t, u.b, clerk, 'clerk');
    const codes = ['x1', 'x2', 'x3'];
    for (const code of codes) {
      await u.caller.goods.stockIn({ directoryId: u.a, code, quantity: 100 });
      await u.caller.goods.stockIn({ directoryId: u.b, code, quantity: 100 });
    }
    let deadlocks = 0;
    const onError = (err: { errno?: number }) => {
      if (err?.errno === 1213) deadlocks++;
    };
    t.db.on('query-error', onError);
    const calls = Array.from({ length: 120 }, (_, i) => {
      const who = i % 2 ? u : clerk;
      const [from, to] = i % 4 < 2 ? [u.a, u.b] : [u.b, u.a];
      const code = codes[i % 3]!;
      if (i % 5 === 0) return who.caller.goods.stockOut({ directoryId: from, code });
      return who.caller.goods.transfer({ fromDirectoryId: from, toDirectoryId: to, code, quantity: 1 + (i % 3) });
    });
    const { ok, errors } = await settle<unknown>(calls).finally(() => t.db.off('query-error', onError));
    expect(errors).toEqual({});
    // Not even retried ones: both warehouse rows are always locked lower id first.
    expect(deadlocks).toBe(0);
    expect(ok).toHaveLength(120);
    const outs = calls.length / 5;
    const total = (await t.db('goods').whereIn('directory_id', [u.a, u.b]).sum({ s: 'quantity' }).first()) as { s: number | string };
    expect(Number(total.s)).toBe(600 - outs);
    for (const dir of [u.a, u.b]) {
      for (const g of (await u.caller.goods.list({ directoryId: dir, limit: 100 })).items) {
        expect(Number((await historyOf(g.id)).s)).toBe(g.quantity);
      }
    }
  });

  describe('roles: clerk or above on both warehouses', () => {
    let owner: TestUser & { a: number; b: number };
    const as: Record<string, TestUser> = {};
    beforeAll(async () => {
      owner = await twoWarehouses();
      await owner.caller.goods.stockIn({ directoryId: owner.a, code: 'r', quantity: 5 });
      for (const name of ['clerkBoth', 'clerkAviewerB', 'clerkAonly', 'viewerAclerkB'] as const) as[name] = await t.newUser();
      await addMember(t, owner.a, as.clerkBoth!, 'clerk');
      await addMember(t, owner.b, as.clerkBoth!, 'clerk');
      await addMember(t, owner.a, as.clerkAviewerB!, 'clerk');
      await addMember(t, owner.b, as.clerkAviewerB!, 'viewer');
      await addMember(t, owner.a, as.clerkAonly!, 'clerk');
      await addMember(t, owner.a, as.viewerAclerkB!, 'viewer');
      await addMember(t, owner.b, as.viewerAclerkB!, 'clerk');
    });

    it.each([
      ['clerkAviewerB', 'FORBIDDEN'],
      ['viewerAclerkB', 'FORBIDDEN'],
      ['clerkAonly', 'NOT_FOUND'],
    ] as const)('%s → %s, nothing changed', async (name, code) => {
      const before = await inventorySnapshot(t);
      const err = await expectTRPCError(
        as[name]!.caller.goods.transfer({ fromDirectoryId: owner.a, toDirectoryId: owner.b, code: 'r', requestId: `${name}-1` }),
        code,
      );
      expect(err).toBeInstanceOf(TRPCError);
      expect(await inventorySnapshot(t)).toEqual(before);
    });

    it('a clerk of both moves stock', async () => {
      const r = await as.clerkBoth!.caller.goods.transfer({ fromDirectoryId: owner.a, toDirectoryId: owner.b, code: 'r' });
      expect(r).toMatchObject({ from: { quantity: 4 }, to: { quantity: 1 }, created: true });
    });
  });
});
