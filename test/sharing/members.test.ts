import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';
import { countRows, expectTRPCError } from '../domain/helpers';
import { join, logRows, namedUser, snapshotAll } from './helpers';

/*
 * Members of a warehouse (API.md directory.members/setRole/removeMember/leave/transferOwnership):
 * what each does, the history it writes, what nobody may do to themselves, and what a removed
 * member, a new owner and the members of a deleted warehouse see afterwards.
 */
describe('members', () => {
  const t = useTestApp();

  /** An owner, a manager, two clerks and a viewer, each with a nickname, in one warehouse. */
  async function team(name = '团队仓库') {
    const owner = await namedUser(t, '老板');
    await owner.caller.auth.updateProfile({ avatarUrl: 'https://example.com/boss.png' });
    const manager = await namedUser(t, '经理');
    const clerk = await namedUser(t, '店员甲');
    const clerk2 = await namedUser(t, '店员乙');
    const viewer = await namedUser(t, '会计');
    const dir = await owner.caller.directory.create({ name });
    await join(owner, dir.id, 'manager', [manager]);
    await join(owner, dir.id, 'clerk', [clerk, clerk2]);
    await join(owner, dir.id, 'viewer', [viewer]);
    return { owner, manager, clerk, clerk2, viewer, dirId: dir.id, dirName: name };
  }

  it('directory.members lists the owner first, then by joining time, with nickname and avatarUrl', async () => {
    const x = await team();
    for (const who of [x.owner, x.viewer]) {
      const members = await who.caller.directory.members({ directoryId: x.dirId });
      expect(members.map((m) => [m.userId, m.nickname, m.role])).toEqual([
        [x.owner.userId, '老板', 'owner'],
        [x.manager.userId, '经理', 'manager'],
        [x.clerk.userId, '店员甲', 'clerk'],
        [x.clerk2.userId, '店员乙', 'clerk'],
        [x.viewer.userId, '会计', 'viewer'],
      ]);
      expect(members[0]).toEqual({
        userId: x.owner.userId,
        nickname: '老板',
        avatarUrl: 'https://example.com/boss.png',
        role: 'owner',
        joinedAt: expect.any(Date),
      });
      expect(members[1]!.avatarUrl).toBeNull();
      for (const m of members) expect(Object.keys(m).sort()).toEqual(['avatarUrl', 'joinedAt', 'nickname', 'role', 'userId']);
    }
    // After a transfer the owner is still listed first, even though they joined last.
    await x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.viewer.userId });
    const after = await x.clerk.caller.directory.members({ directoryId: x.dirId });
    expect(after.map((m) => [m.userId, m.role])).toEqual([
      [x.viewer.userId, 'owner'],
      [x.owner.userId, 'manager'],
      [x.manager.userId, 'manager'],
      [x.clerk.userId, 'clerk'],
      [x.clerk2.userId, 'clerk'],
    ]);
  });

  it('setRole changes a role, takes effect at once and logs member.role', async () => {
    const x = await team();
    expect(await x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.clerk.userId, role: 'viewer' })).toMatchObject({
      userId: x.clerk.userId,
      nickname: '店员甲',
      role: 'viewer',
    });
    await expectTRPCError(x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'A' }), 'FORBIDDEN');
    expect(await x.owner.caller.directory.setRole({ directoryId: x.dirId, userId: x.viewer.userId, role: 'manager' })).toMatchObject({
      role: 'manager',
    });
    // The promoted viewer now manages the team.
    await x.viewer.caller.invite.create({ directoryId: x.dirId, role: 'clerk' });
    expect((await x.viewer.caller.directory.get({ id: x.dirId })).role).toBe('manager');

    const entries = await logRows(t.db, x.dirId, 'member.role');
    expect(entries).toEqual([
      expect.objectContaining({ userId: x.manager.userId, actorName: '经理', targetUserId: x.clerk.userId }),
      expect.objectContaining({ userId: x.owner.userId, actorName: '老板', targetUserId: x.viewer.userId }),
    ]);
    const page = await x.clerk.caller.log.list({ directoryId: x.dirId, type: 'member.role' });
    expect(page.items[0]).toMatchObject({ type: 'member.role', actorId: x.owner.userId, actorName: '老板', targetUserId: x.viewer.userId });

    // Setting the role a member already has changes nothing and logs nothing.
    const before = await snapshotAll(t.db);
    await x.owner.caller.directory.setRole({ directoryId: x.dirId, userId: x.viewer.userId, role: 'manager' });
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('nobody changes their own role or removes themselves; the owner cannot be demoted or removed', async () => {
    const x = await team();
    const stranger = await t.newUser();
    const before = await snapshotAll(t.db);
    await expectTRPCError(
      x.owner.caller.directory.setRole({ directoryId: x.dirId, userId: x.owner.userId, role: 'manager' }),
      'PRECONDITION_FAILED',
    );
    await expectTRPCError(
      x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.manager.userId, role: 'clerk' }),
      'PRECONDITION_FAILED',
    );
    await expectTRPCError(x.owner.caller.directory.removeMember({ directoryId: x.dirId, userId: x.owner.userId }), 'PRECONDITION_FAILED');
    await expectTRPCError(
      x.manager.caller.directory.removeMember({ directoryId: x.dirId, userId: x.manager.userId }),
      'PRECONDITION_FAILED',
    );
    // A clerk may not handle memberships at all, their own included.
    await expectTRPCError(x.clerk.caller.directory.setRole({ directoryId: x.dirId, userId: x.clerk.userId, role: 'manager' }), 'FORBIDDEN');
    await expectTRPCError(x.clerk.caller.directory.removeMember({ directoryId: x.dirId, userId: x.clerk.userId }), 'FORBIDDEN');
    // The owner's membership is moved by transferOwnership only.
    await expectTRPCError(
      x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.owner.userId, role: 'viewer' }),
      'FORBIDDEN',
    );
    await expectTRPCError(x.manager.caller.directory.removeMember({ directoryId: x.dirId, userId: x.owner.userId }), 'FORBIDDEN');
    await expectTRPCError(
      x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.owner.userId }),
      'PRECONDITION_FAILED',
    );
    // Someone who is not a member is no member to change.
    await expectTRPCError(x.owner.caller.directory.setRole({ directoryId: x.dirId, userId: stranger.userId, role: 'clerk' }), 'NOT_FOUND');
    await expectTRPCError(x.owner.caller.directory.removeMember({ directoryId: x.dirId, userId: stranger.userId }), 'NOT_FOUND');
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('removeMember removes, logs member.remove, and the removed member gets NOT_FOUND for everything at once', async () => {
    const x = await team('移除仓库');
    const { goods } = await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'R-1', quantity: 5 });
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'R-1' });
    const invite = await x.owner.caller.invite.create({ directoryId: x.dirId, role: 'viewer' });

    expect(await x.manager.caller.directory.removeMember({ directoryId: x.dirId, userId: x.clerk.userId })).toEqual({ ok: true });
    const [entry] = await logRows(t.db, x.dirId, 'member.remove');
    expect(entry).toMatchObject({ userId: x.manager.userId, actorName: '经理', targetUserId: x.clerk.userId });
    expect(await countRows(t.db, 'directory_members', { directory_id: x.dirId, user_id: x.clerk.userId })).toBe(0);

    const c = x.clerk.caller;
    const before = await snapshotAll(t.db);
    const refusals: [string, () => Promise<unknown>][] = [
      ['directory.get', () => c.directory.get({ id: x.dirId })],
      ['directory.rename', () => c.directory.rename({ id: x.dirId, name: 'mine now' })],
      ['directory.delete', () => c.directory.delete({ id: x.dirId })],
      ['directory.members', () => c.directory.members({ directoryId: x.dirId })],
      ['directory.leave', () => c.directory.leave({ directoryId: x.dirId })],
      ['directory.setRole', () => c.directory.setRole({ directoryId: x.dirId, userId: x.viewer.userId, role: 'clerk' })],
      ['directory.removeMember', () => c.directory.removeMember({ directoryId: x.dirId, userId: x.viewer.userId })],
      ['directory.transferOwnership', () => c.directory.transferOwnership({ directoryId: x.dirId, userId: x.viewer.userId })],
      ['goods.scan', () => c.goods.scan({ directoryId: x.dirId, code: 'R-1' })],
      ['goods.stockIn', () => c.goods.stockIn({ directoryId: x.dirId, code: 'R-1' })],
      ['goods.stockOut', () => c.goods.stockOut({ directoryId: x.dirId, code: 'R-1' })],
      ['goods.list', () => c.goods.list({ directoryId: x.dirId })],
      ['goods.get', () => c.goods.get({ id: goods.id })],
      ['goods.update', () => c.goods.update({ id: goods.id, name: 'x' })],
      ['goods.delete', () => c.goods.delete({ id: goods.id })],
      ['invite.create', () => c.invite.create({ directoryId: x.dirId, role: 'viewer' })],
      ['invite.list', () => c.invite.list({ directoryId: x.dirId })],
      ['invite.revoke', () => c.invite.revoke({ id: invite.id })],
    ];
    for (const [name, call] of refusals) {
      const err = await expectTRPCError(call(), 'NOT_FOUND').catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
      expect(err.message, name).not.toContain('移除仓库');
    }
    expect(await snapshotAll(t.db)).toEqual(before);
    expect((await c.directory.list()).map((d) => d.id)).not.toContain(x.dirId);
    // Their own earlier entries in that warehouse went with it.
    expect(await c.log.list({ directoryId: x.dirId })).toEqual({ items: [], nextCursor: null });
    expect((await c.log.list({ limit: 100 })).items.filter((e) => e.directoryId === x.dirId)).toEqual([]);
    // The team keeps the removed clerk's entries.
    expect((await x.viewer.caller.log.list({ directoryId: x.dirId, actorId: x.clerk.userId })).items).toHaveLength(2);
  });

  it('managers handle clerks and viewers only; the owner handles managers', async () => {
    const x = await team();
    const manager2 = await namedUser(t, '经理二');
    await join(x.owner, x.dirId, 'manager', [manager2]);
    await expectTRPCError(x.manager.caller.directory.removeMember({ directoryId: x.dirId, userId: manager2.userId }), 'FORBIDDEN');
    await expectTRPCError(
      x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: manager2.userId, role: 'viewer' }),
      'FORBIDDEN',
    );
    await expectTRPCError(
      x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.clerk.userId, role: 'manager' }),
      'FORBIDDEN',
    );
    await x.owner.caller.directory.setRole({ directoryId: x.dirId, userId: manager2.userId, role: 'clerk' });
    // Now a clerk, the manager may remove them.
    await x.manager.caller.directory.removeMember({ directoryId: x.dirId, userId: manager2.userId });
    await x.owner.caller.directory.removeMember({ directoryId: x.dirId, userId: x.manager.userId });
    expect((await x.owner.caller.directory.members({ directoryId: x.dirId })).map((m) => m.role)).toEqual([
      'owner',
      'clerk',
      'clerk',
      'viewer',
    ]);
    expect((await logRows(t.db, x.dirId, 'member.remove')).map((e) => [e.userId, e.targetUserId])).toEqual([
      [x.manager.userId, manager2.userId],
      [x.owner.userId, x.manager.userId],
    ]);
  });

  it('leave: a member leaves and logs member.leave; the owner → PRECONDITION_FAILED', async () => {
    const x = await team();
    expect(await x.viewer.caller.directory.leave({ directoryId: x.dirId })).toEqual({ ok: true });
    expect(await logRows(t.db, x.dirId, 'member.leave')).toEqual([
      expect.objectContaining({ userId: x.viewer.userId, actorName: '会计', targetUserId: x.viewer.userId }),
    ]);
    await expectTRPCError(x.viewer.caller.directory.get({ id: x.dirId }), 'NOT_FOUND');
    // Leaving again: no longer a member.
    await expectTRPCError(x.viewer.caller.directory.leave({ directoryId: x.dirId }), 'NOT_FOUND');
    expect(await x.manager.caller.directory.leave({ directoryId: x.dirId })).toEqual({ ok: true });

    const before = await snapshotAll(t.db);
    const err = await expectTRPCError(x.owner.caller.directory.leave({ directoryId: x.dirId }), 'PRECONDITION_FAILED');
    expect(err.message).toMatch(/transfer|delete/i);
    expect(await snapshotAll(t.db)).toEqual(before);
    expect((await x.owner.caller.directory.get({ id: x.dirId })).memberCount).toBe(3);
    const page = await x.owner.caller.log.list({ directoryId: x.dirId, type: 'member.leave' });
    expect(page.items.map((e) => [e.actorId, e.actorName, e.targetUserId])).toEqual([
      [x.manager.userId, '经理', x.manager.userId],
      [x.viewer.userId, '会计', x.viewer.userId],
    ]);
  });

  it('transferOwnership: the new owner must be a member (NOT_FOUND otherwise), the old one stays as manager', async () => {
    const x = await team('转让仓库');
    const stranger = await namedUser(t, '陌生人');
    const before = await snapshotAll(t.db);
    await expectTRPCError(x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: stranger.userId }), 'NOT_FOUND');
    await expectTRPCError(x.manager.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.clerk.userId }), 'FORBIDDEN');
    expect(await snapshotAll(t.db)).toEqual(before);

    const dir = await x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.clerk.userId });
    expect(dir).toMatchObject({ id: x.dirId, role: 'manager', ownerId: x.clerk.userId, ownerNickname: '店员甲', memberCount: 5 });
    expect(await logRows(t.db, x.dirId, 'member.owner')).toEqual([
      expect.objectContaining({ userId: x.owner.userId, actorName: '老板', targetUserId: x.clerk.userId }),
    ]);
    // The new owner can do what only an owner can; the old one no longer can.
    await expectTRPCError(x.owner.caller.directory.removeMember({ directoryId: x.dirId, userId: x.manager.userId }), 'FORBIDDEN');
    await expectTRPCError(x.owner.caller.directory.delete({ id: x.dirId }), 'FORBIDDEN');
    await x.owner.caller.directory.leave({ directoryId: x.dirId });
    await expectTRPCError(x.clerk.caller.directory.leave({ directoryId: x.dirId }), 'PRECONDITION_FAILED');
    await x.clerk.caller.directory.setRole({ directoryId: x.dirId, userId: x.manager.userId, role: 'viewer' });
    expect(await countRows(t.db, 'directory_members', { directory_id: x.dirId, role: 'owner' })).toBe(1);
  });

  it('transferOwnership to a member who already owns a warehouse of that name → CONFLICT, nothing changed', async () => {
    const x = await team('同名仓库');
    await x.clerk.caller.directory.create({ name: '同名仓库' });
    const before = await snapshotAll(t.db);
    await expectTRPCError(x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.clerk.userId }), 'CONFLICT');
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('after a transfer, directory.list shows ownerId/ownerNickname/role/memberCount right for each member, in one query', async () => {
    const x = await team('清单仓库');
    await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'L-1', quantity: 4 });
    await x.owner.caller.directory.transferOwnership({ directoryId: x.dirId, userId: x.manager.userId });

    const expectedRole = new Map([
      [x.owner.userId, 'manager'],
      [x.manager.userId, 'owner'],
      [x.clerk.userId, 'clerk'],
      [x.clerk2.userId, 'clerk'],
      [x.viewer.userId, 'viewer'],
    ]);
    const statements: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (!/\bsessions\b/.test(q.sql)) statements.push(q.sql);
    };
    for (const who of [x.owner, x.manager, x.clerk, x.clerk2, x.viewer]) {
      statements.length = 0;
      t.db.on('query', onQuery);
      const list = await who.caller.directory.list().finally(() => t.db.off('query', onQuery));
      expect(statements, 'directory.list answers in one statement (besides the session lookup)').toHaveLength(1);
      const d = list.find((e) => e.id === x.dirId);
      expect(d).toMatchObject({
        id: x.dirId,
        name: '清单仓库',
        role: expectedRole.get(who.userId),
        ownerId: x.manager.userId,
        ownerNickname: '经理',
        memberCount: 5,
        goodsCount: 1,
        totalQuantity: 4,
      });
      // Everyone also sees their own `默认` warehouse, of which they are the only member.
      expect(list.find((e) => e.name === '默认')).toMatchObject({ role: 'owner', ownerId: who.userId, memberCount: 1 });
      expect(list).toHaveLength(2);
    }
  });

  it('directory.delete: gone from every member’s list at once; log.list keeps its history for the owner only', async () => {
    const x = await team('删除仓库');
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'D-1', quantity: 3 });
    const before = await x.clerk.caller.log.list({ directoryId: x.dirId, limit: 100 });
    expect(before.items.length).toBeGreaterThan(0);
    await expectTRPCError(x.manager.caller.directory.delete({ id: x.dirId }), 'FORBIDDEN');
    expect(await x.owner.caller.directory.delete({ id: x.dirId })).toEqual({ ok: true });

    for (const who of [x.owner, x.manager, x.clerk, x.clerk2, x.viewer]) {
      expect((await who.caller.directory.list()).map((d) => d.id)).not.toContain(x.dirId);
      await expectTRPCError(who.caller.directory.get({ id: x.dirId }), 'NOT_FOUND');
      await expectTRPCError(who.caller.directory.members({ directoryId: x.dirId }), 'NOT_FOUND');
      await expectTRPCError(who.caller.goods.scan({ directoryId: x.dirId, code: 'D-1' }), 'NOT_FOUND');
    }
    await expectTRPCError(x.clerk.caller.directory.leave({ directoryId: x.dirId }), 'NOT_FOUND');

    const ownerView = await x.owner.caller.log.list({ directoryId: x.dirId, limit: 100 });
    expect(ownerView.items[0]).toMatchObject({ type: 'directory.delete', actorId: x.owner.userId, directoryName: '删除仓库' });
    expect(ownerView.items.slice(1)).toEqual(before.items);
    expect((await x.owner.caller.log.list({ limit: 100 })).items.filter((e) => e.directoryId === x.dirId)).toHaveLength(
      ownerView.items.length,
    );
    for (const who of [x.manager, x.clerk, x.clerk2, x.viewer]) {
      expect(await who.caller.log.list({ directoryId: x.dirId })).toEqual({ items: [], nextCursor: null });
      expect((await who.caller.log.list({ limit: 100 })).items.filter((e) => e.directoryId === x.dirId)).toEqual([]);
    }
  });
});
