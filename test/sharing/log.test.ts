import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';
import { join, namedUser } from './helpers';

/*
 * The history of a team (API.md "log", v2): every entry of every warehouse the caller belongs to,
 * with who did it; the caller's own entries that belong to no warehouse; nothing of other teams,
 * whatever the filters name.
 */
describe('log.list for a team', () => {
  const t = useTestApp();

  async function scenario() {
    const owner = await namedUser(t, '老板');
    const clerk = await namedUser(t, '店员');
    const viewer = await namedUser(t, '会计');
    const other = await namedUser(t, '隔壁老板');
    const dirA = (await owner.caller.directory.create({ name: '甲仓' })).id;
    await join(owner, dirA, 'clerk', [clerk]);
    await join(owner, dirA, 'viewer', [viewer]);
    const milk = (await owner.caller.goods.stockIn({ directoryId: dirA, code: 'MILK', name: '牛奶', quantity: 10 })).goods;
    await clerk.caller.goods.stockIn({ directoryId: dirA, code: 'MILK', quantity: 5 });
    await clerk.caller.goods.stockOut({ directoryId: dirA, code: 'MILK', quantity: 2 });
    // Another team, in which the clerk also works: the viewer and owner of 甲仓 must see none of it.
    const dirB = (await other.caller.directory.create({ name: '乙仓' })).id;
    await join(other, dirB, 'clerk', [clerk]);
    const bread = (await other.caller.goods.stockIn({ directoryId: dirB, code: 'BREAD', quantity: 7 })).goods;
    await clerk.caller.goods.stockOut({ directoryId: dirB, code: 'BREAD' });
    return { owner, clerk, viewer, other, dirA, dirB, milk, bread };
  }

  it('every entry of the team’s warehouse, newest first, with actorId and actorName', async () => {
    const x = await scenario();
    for (const who of [x.owner, x.clerk, x.viewer]) {
      const page = await who.caller.log.list({ directoryId: x.dirA, limit: 100 });
      expect(page.items.map((e) => [e.type, e.actorId, e.actorName, e.delta, e.quantityAfter, e.targetUserId])).toEqual([
        ['stock.out', x.clerk.userId, '店员', -2, 13, null],
        ['stock.in', x.clerk.userId, '店员', 5, 15, null],
        ['stock.in', x.owner.userId, '老板', 10, 10, null],
        ['member.join', x.viewer.userId, '会计', null, null, x.viewer.userId],
        ['member.join', x.clerk.userId, '店员', null, null, x.clerk.userId],
        ['directory.create', x.owner.userId, '老板', null, null, null],
      ]);
      for (const e of page.items) expect(e).toMatchObject({ directoryId: x.dirA, directoryName: '甲仓' });
    }
    // Without a filter: the viewer sees all of 甲仓 (and their own 默认), none of 乙仓.
    const all = await x.viewer.caller.log.list({ limit: 100 });
    expect(all.items.filter((e) => e.directoryId === x.dirA)).toHaveLength(6);
    expect(all.items.filter((e) => e.directoryId !== x.dirA).map((e) => [e.type, e.actorId, e.directoryName])).toEqual([
      ['directory.create', x.viewer.userId, '默认'],
    ]);
    // The clerk, in both teams, sees both.
    const clerks = await x.clerk.caller.log.list({ limit: 100 });
    expect(new Set(clerks.items.map((e) => e.directoryName))).toEqual(new Set(['甲仓', '乙仓', '默认']));
  });

  it('filters by actorId, alone or with the other filters', async () => {
    const x = await scenario();
    const byClerk = await x.viewer.caller.log.list({ actorId: x.clerk.userId, limit: 100 });
    // Only the clerk's entries the viewer may see: in 甲仓, not in 乙仓 nor the clerk's own 默认.
    expect(byClerk.items.map((e) => [e.type, e.directoryId])).toEqual([
      ['stock.out', x.dirA],
      ['stock.in', x.dirA],
      ['member.join', x.dirA],
    ]);
    expect(byClerk.items.every((e) => e.actorId === x.clerk.userId && e.actorName === '店员')).toBe(true);
    expect((await x.owner.caller.log.list({ actorId: x.clerk.userId, type: 'stock.in' })).items).toHaveLength(1);
    expect((await x.owner.caller.log.list({ actorId: x.owner.userId, goodsId: x.milk.id })).items.map((e) => e.delta)).toEqual([10]);
    expect((await x.owner.caller.log.list({ directoryId: x.dirA, actorId: x.viewer.userId })).items.map((e) => e.type)).toEqual([
      'member.join',
    ]);
    // Someone of another team: nothing.
    expect(await x.owner.caller.log.list({ actorId: x.other.userId })).toEqual({ items: [], nextCursor: null });
    // The clerk sees their own entries in both teams.
    const own = await x.clerk.caller.log.list({ actorId: x.clerk.userId, limit: 100 });
    const ownDirs = new Set(own.items.map((e) => e.directoryId));
    // 甲仓, 乙仓 and the clerk's own 默认.
    expect(ownDirs.size).toBe(3);
    expect([...ownDirs]).toEqual(expect.arrayContaining([x.dirA, x.dirB]));
    expect(own.items.filter((e) => e.directoryId === x.dirB).map((e) => e.type)).toEqual(['stock.out', 'member.join']);
  });

  it('hides other teams’ warehouses, even when asked for them by id', async () => {
    const x = await scenario();
    for (const who of [x.owner, x.viewer]) {
      for (const filter of [
        { directoryId: x.dirB },
        { goodsId: x.bread.id },
        { directoryId: x.dirB, actorId: x.clerk.userId },
        { directoryId: x.dirB, type: 'stock.in' as const },
      ]) {
        expect(await who.caller.log.list(filter)).toEqual({ items: [], nextCursor: null });
      }
      const all = await who.caller.log.list({ limit: 100 });
      expect(all.items.some((e) => e.directoryId === x.dirB || e.goodsId === x.bread.id)).toBe(false);
    }
    // And the other owner sees nothing of 甲仓, though their clerk works there.
    expect(await x.other.caller.log.list({ directoryId: x.dirA })).toEqual({ items: [], nextCursor: null });
    expect((await x.other.caller.log.list({ limit: 100 })).items.some((e) => e.directoryId === x.dirA)).toBe(false);
  });

  it('shows the caller’s own entries that belong to no warehouse, and nobody else’s', async () => {
    const x = await scenario();
    // No procedure writes such an entry yet: write them as the history module would.
    const now = t.now();
    const row = (userId: number, name: string) => ({
      user_id: userId,
      actor_name: name,
      type: 'goods.update',
      directory_id: null,
      created_at: now,
    });
    await t.db('logs').insert(row(x.owner.userId, '老板'));
    await t.db('logs').insert(row(x.clerk.userId, '店员'));
    const ownerAll = await x.owner.caller.log.list({ limit: 100 });
    const loose = ownerAll.items.filter((e) => e.directoryId === null);
    expect(loose).toEqual([expect.objectContaining({ actorId: x.owner.userId, actorName: '老板', type: 'goods.update' })]);
    expect((await x.clerk.caller.log.list({ limit: 100 })).items.filter((e) => e.directoryId === null)).toEqual([
      expect.objectContaining({ actorId: x.clerk.userId }),
    ]);
    expect((await x.viewer.caller.log.list({ limit: 100 })).items.filter((e) => e.directoryId === null)).toEqual([]);
    // The actorId filter cannot reach someone else's loose entries either.
    expect((await x.viewer.caller.log.list({ actorId: x.owner.userId, limit: 100 })).items.some((e) => e.directoryId === null)).toBe(false);
  });

  it('actorName is the nickname at the time', async () => {
    const x = await scenario();
    await x.clerk.caller.auth.updateProfile({ nickname: '店长' });
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirA, code: 'MILK' });
    const page = await x.viewer.caller.log.list({ directoryId: x.dirA, actorId: x.clerk.userId });
    expect(page.items.map((e) => e.actorName)).toEqual(['店长', '店员', '店员', '店员']);
  });

  it('after leaving (or being removed), the warehouse’s history is no longer visible', async () => {
    const x = await scenario();
    expect((await x.viewer.caller.log.list({ directoryId: x.dirA })).items.length).toBeGreaterThan(0);
    await x.viewer.caller.directory.leave({ directoryId: x.dirA });
    expect(await x.viewer.caller.log.list({ directoryId: x.dirA })).toEqual({ items: [], nextCursor: null });
    expect(await x.viewer.caller.log.list({ goodsId: x.milk.id })).toEqual({ items: [], nextCursor: null });
    // Not even their own entries there (their join, their leave).
    const all = await x.viewer.caller.log.list({ limit: 100 });
    expect(all.items.some((e) => e.directoryId === x.dirA)).toBe(false);
    // The team still sees the viewer's entries, the leave included.
    const team = await x.owner.caller.log.list({ directoryId: x.dirA, actorId: x.viewer.userId });
    expect(team.items.map((e) => [e.type, e.targetUserId])).toEqual([
      ['member.leave', x.viewer.userId],
      ['member.join', x.viewer.userId],
    ]);

    await x.other.caller.directory.removeMember({ directoryId: x.dirB, userId: x.clerk.userId });
    expect(await x.clerk.caller.log.list({ directoryId: x.dirB })).toEqual({ items: [], nextCursor: null });
    expect((await x.clerk.caller.log.list({ limit: 100 })).items.some((e) => e.directoryId === x.dirB)).toBe(false);
    expect((await x.clerk.caller.log.list({ directoryId: x.dirA })).items.length).toBeGreaterThan(0);
  });

  it('pages through a team’s history newest first with no entry twice', async () => {
    const x = await scenario();
    for (let i = 0; i < 12; i++) await [x.owner, x.clerk][i % 2]!.caller.goods.stockIn({ directoryId: x.dirA, code: 'MILK' });
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof x.viewer.caller.log.list>> = await x.viewer.caller.log.list({
        directoryId: x.dirA,
        limit: 5,
        cursor,
      });
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(18);
    expect(new Set(seen).size).toBe(18);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });
});
