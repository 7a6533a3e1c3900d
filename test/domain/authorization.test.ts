import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type TestUser } from '../helpers/app';
import { expectTRPCError, snapshot } from './helpers';

/*
 * A second user calls every procedure with the first user's ids. Each must behave exactly as for
 * an id that does not exist — NOT_FOUND, or nothing at all for the log's filters — and must leave
 * the first user's data as it was.
 */
describe('authorization matrix: another user’s ids are NOT_FOUND', () => {
  const t = useTestApp();
  let owner: TestUser;
  let intruder: TestUser;
  let dirId: number;
  let goodsId: number;
  const code = 'owner-code-001';

  beforeAll(async () => {
    owner = await t.newUser();
    intruder = await t.newUser();
    dirId = (await owner.caller.directory.create({ name: '私人仓库' })).id;
    goodsId = (await owner.caller.goods.stockIn({ directoryId: dirId, code, name: '秘密', quantity: 9, requestId: 'owner-req' })).goods.id;
    await owner.caller.goods.stockOut({ directoryId: dirId, code, quantity: 1 });
    // The intruder has their own directory with the same name and code, to catch scoping by value.
    const own = await intruder.caller.directory.create({ name: '私人仓库' });
    await intruder.caller.goods.stockIn({ directoryId: own.id, code, quantity: 1 });
  });

  const ownerRows = async () => {
    const snap = await snapshot(t.db);
    return {
      ...snap,
      // The intruder may leave a record of their own refused request; the owner's must not move.
      request_results: (snap.request_results as { user_id: number }[]).filter((r) => r.user_id === owner.userId),
    };
  };

  const calls: [string, () => Promise<unknown>][] = [
    ['directory.get', () => intruder.caller.directory.get({ id: dirId })],
    ['directory.rename', () => intruder.caller.directory.rename({ id: dirId, name: 'pwned' })],
    ['directory.delete', () => intruder.caller.directory.delete({ id: dirId })],
    ['goods.scan', () => intruder.caller.goods.scan({ directoryId: dirId, code })],
    ['goods.stockIn', () => intruder.caller.goods.stockIn({ directoryId: dirId, code, quantity: 5 })],
    ['goods.stockIn (new code)', () => intruder.caller.goods.stockIn({ directoryId: dirId, code: 'planted' })],
    [
      'goods.stockIn (owner requestId)',
      () => intruder.caller.goods.stockIn({ directoryId: dirId, code, quantity: 9, requestId: 'owner-req' }),
    ],
    ['goods.stockOut', () => intruder.caller.goods.stockOut({ directoryId: dirId, code, quantity: 1 })],
    ['goods.stockOut (requestId)', () => intruder.caller.goods.stockOut({ directoryId: dirId, code, requestId: 'x-1' })],
    ['goods.list', () => intruder.caller.goods.list({ directoryId: dirId })],
    ['goods.list (search)', () => intruder.caller.goods.list({ directoryId: dirId, search: '秘密' })],
    ['goods.get', () => intruder.caller.goods.get({ id: goodsId })],
    ['goods.update', () => intruder.caller.goods.update({ id: goodsId, name: 'pwned', code: 'pwned' })],
    ['goods.delete', () => intruder.caller.goods.delete({ id: goodsId })],
  ];

  it.each(calls)('%s → NOT_FOUND, nothing changed', async (_name, call) => {
    const before = await ownerRows();
    const err = await expectTRPCError(call(), 'NOT_FOUND');
    expect(err.message).not.toContain('私人仓库');
    expect(await ownerRows()).toEqual(before);
  });

  it('log.list with the owner’s ids shows none of the owner’s rows', async () => {
    for (const filter of [{ directoryId: dirId }, { goodsId }, { directoryId: dirId, type: 'stock.in' as const }]) {
      expect(await intruder.caller.log.list(filter)).toEqual({ items: [], nextCursor: null });
    }
    const own = await intruder.caller.log.list({ limit: 100 });
    expect(own.items.length).toBeGreaterThan(0);
    expect(own.items.every((e) => e.directoryId !== dirId && e.goodsId !== goodsId)).toBe(true);
  });

  it('lists never include the owner’s directories or goods', async () => {
    const dirs = await intruder.caller.directory.list({});
    expect(dirs.map((d) => d.id)).not.toContain(dirId);
    for (const d of dirs) {
      const page = await intruder.caller.goods.list({ directoryId: d.id, limit: 100 });
      expect(page.items.map((g) => g.id)).not.toContain(goodsId);
    }
  });

  it('the owner still sees everything intact', async () => {
    expect(await owner.caller.directory.get({ id: dirId })).toMatchObject({ name: '私人仓库', goodsCount: 1, totalQuantity: 8 });
    expect(await owner.caller.goods.get({ id: goodsId })).toMatchObject({ name: '秘密', code, quantity: 8 });
    // The owner's requestId still replays the owner's result.
    const replay = await owner.caller.goods.stockIn({ directoryId: dirId, code, name: '秘密', quantity: 9, requestId: 'owner-req' });
    expect(replay.goods.quantity).toBe(9);
    expect((await owner.caller.goods.get({ id: goodsId })).quantity).toBe(8);
  });
});
