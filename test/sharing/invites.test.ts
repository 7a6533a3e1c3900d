import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';
import { countRows, expectTRPCError } from '../domain/helpers';
import { codeOf, join, logRows, namedUser, snapshotAll } from './helpers';

const HOUR = 3_600_000;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/*
 * The invitation lifecycle (API.md "invite"): a secret token shown once and stored hashed, a
 * preview for the join page, refusals for unknown / revoked / expired / used-up tokens, and
 * maxUses held under concurrent accepts.
 */
describe('invitations', () => {
  // Concurrent accepts really contend on MySQL: a pool larger than the number of racers.
  const t = useTestApp({ poolMax: 20 });

  async function ownerWithWarehouse(name = '共享仓库') {
    const owner = await namedUser(t, '老板');
    const dir = await owner.caller.directory.create({ name });
    return { owner, dirId: dir.id, dirName: name };
  }

  it('the token has ≥ 128 bits and only its SHA-256 is stored', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk' });
    expect(invite).toMatchObject({ directoryId: dirId, role: 'clerk', createdBy: owner.userId, maxUses: 1, uses: 0, revokedAt: null });
    expect(invite.expiresAt.getTime() - invite.createdAt.getTime()).toBe(24 * HOUR);
    // base64url: 6 bits a character.
    expect(invite.token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(invite.token.length * 6).toBeGreaterThanOrEqual(128);
    const tokens = new Set(
      await Promise.all(
        Array.from({ length: 5 }, async () => (await owner.caller.invite.create({ directoryId: dirId, role: 'viewer' })).token),
      ),
    );
    expect(tokens.size).toBe(5);

    const rows = (await t.db('invites').select('*').where({ directory_id: dirId })) as Record<string, unknown>[];
    expect(rows).toHaveLength(6);
    const row = rows.find((r) => Number(r.id) === invite.id)!;
    expect(row.token_hash).toBe(sha256(invite.token));
    // The token itself is nowhere in the table (nor in any other app table).
    const everything = JSON.stringify(await snapshotAll(t.db));
    for (const token of [invite.token, ...tokens]) expect(everything).not.toContain(token);
    // Nor does invite.list give it out again.
    const listed = await owner.caller.invite.list({ directoryId: dirId });
    expect(listed).toHaveLength(6);
    expect(JSON.stringify(listed)).not.toContain(invite.token);
    for (const i of listed) expect(i).not.toHaveProperty('token');
  });

  it('preview shows the warehouse, the role, the inviter, the member count and the expiry', async () => {
    const { owner, dirId, dirName } = await ownerWithWarehouse('预览仓库');
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'manager', maxUses: 2, expiresInHours: 48 });
    const guest = await namedUser(t, '访客');
    const preview = await guest.caller.invite.preview({ token: invite.token });
    expect(preview).toEqual({
      directoryId: dirId,
      directoryName: dirName,
      role: 'manager',
      inviterNickname: '老板',
      memberCount: 1,
      expiresAt: invite.expiresAt,
    });
    expect(invite.expiresAt.getTime() - invite.createdAt.getTime()).toBe(48 * HOUR);
    // Previewing joins nothing and uses nothing.
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(1);
    expect(await owner.caller.invite.list({ directoryId: dirId })).toEqual([expect.objectContaining({ id: invite.id, uses: 0 })]);
    await guest.caller.invite.accept({ token: invite.token });
    expect((await owner.caller.invite.preview({ token: invite.token })).memberCount).toBe(2);
  });

  it('an unknown token → NOT_FOUND', async () => {
    const guest = await t.newUser();
    const before = await snapshotAll(t.db);
    for (const token of ['nope', 'A'.repeat(43)]) {
      await expectTRPCError(guest.caller.invite.preview({ token }), 'NOT_FOUND');
      await expectTRPCError(guest.caller.invite.accept({ token }), 'NOT_FOUND');
    }
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('a revoked invitation → NOT_FOUND at once, and it leaves invite.list', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', maxUses: 10 });
    const guest = await t.newUser();
    await guest.caller.invite.preview({ token: invite.token });
    expect(await owner.caller.invite.revoke({ id: invite.id })).toEqual({ ok: true });
    await expectTRPCError(guest.caller.invite.preview({ token: invite.token }), 'NOT_FOUND');
    await expectTRPCError(guest.caller.invite.accept({ token: invite.token }), 'NOT_FOUND');
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(1);
    expect(await owner.caller.invite.list({ directoryId: dirId })).toEqual([]);
    const row = await t.db('invites').where({ id: invite.id }).first();
    expect(row.revoked_at).not.toBeNull();
    expect(Number(row.uses)).toBe(0);
    // Revoking again is harmless.
    expect(await owner.caller.invite.revoke({ id: invite.id })).toEqual({ ok: true });
  });

  it('an expired invitation → PRECONDITION_FAILED (the server clock moved on)', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 5, expiresInHours: 1 });
    const guest = await t.newUser();
    const before = await snapshotAll(t.db);
    t.advanceClock(HOUR + 1000);
    await expectTRPCError(guest.caller.invite.preview({ token: invite.token }), 'PRECONDITION_FAILED');
    await expectTRPCError(guest.caller.invite.accept({ token: invite.token }), 'PRECONDITION_FAILED');
    expect(await owner.caller.invite.list({ directoryId: dirId })).toEqual([]);
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('a used-up invitation → PRECONDITION_FAILED', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', maxUses: 2 });
    for (let i = 0; i < 2; i++) await (await t.newUser()).caller.invite.accept({ token: invite.token });
    const late = await t.newUser();
    const before = await snapshotAll(t.db);
    await expectTRPCError(late.caller.invite.preview({ token: invite.token }), 'PRECONDITION_FAILED');
    await expectTRPCError(late.caller.invite.accept({ token: invite.token }), 'PRECONDITION_FAILED');
    expect(await snapshotAll(t.db)).toEqual(before);
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(3);
  });

  it('invite.list shows only live invitations, newest first', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const live1 = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 3, expiresInHours: 168 });
    const revoked = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', expiresInHours: 168 });
    const usedUp = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', expiresInHours: 168 });
    const expiring = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', expiresInHours: 1 });
    const partlyUsed = await owner.caller.invite.create({ directoryId: dirId, role: 'manager', maxUses: 2, expiresInHours: 168 });
    await owner.caller.invite.revoke({ id: revoked.id });
    await (await t.newUser()).caller.invite.accept({ token: usedUp.token });
    await (await t.newUser()).caller.invite.accept({ token: partlyUsed.token });
    expect((await owner.caller.invite.list({ directoryId: dirId })).map((i) => i.id)).toEqual([partlyUsed.id, expiring.id, live1.id]);
    t.advanceClock(HOUR);
    const listed = await owner.caller.invite.list({ directoryId: dirId });
    expect(listed.map((i) => i.id)).toEqual([partlyUsed.id, live1.id]);
    expect(listed[0]).toMatchObject({ role: 'manager', maxUses: 2, uses: 1, revokedAt: null, createdBy: owner.userId });
    // Another warehouse's invitations are not listed.
    const other = await owner.caller.directory.create({ name: '另一个' });
    await owner.caller.invite.create({ directoryId: other.id, role: 'viewer' });
    expect((await owner.caller.invite.list({ directoryId: dirId })).map((i) => i.id)).toEqual([partlyUsed.id, live1.id]);
  });

  it('an existing member accepting gets the warehouse back, and no use is consumed', async () => {
    const { owner, dirId } = await ownerWithWarehouse('已加入');
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'manager', maxUses: 3 });
    const clerk = await namedUser(t, '店员');
    const clerkInvite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', maxUses: 3 });
    await clerk.caller.invite.accept({ token: clerkInvite.token });

    // The owner and a clerk open a manager invitation: nothing changes, not even their role.
    const before = await snapshotAll(t.db);
    const asOwner = await owner.caller.invite.accept({ token: invite.token });
    expect(asOwner).toMatchObject({ id: dirId, role: 'owner', memberCount: 2 });
    expect(asOwner).toEqual(await owner.caller.directory.get({ id: dirId }));
    const asClerk = await clerk.caller.invite.accept({ token: invite.token });
    expect(asClerk).toMatchObject({ id: dirId, role: 'clerk', memberCount: 2 });
    expect(await snapshotAll(t.db)).toEqual(before);
    expect(await owner.caller.invite.list({ directoryId: dirId })).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: invite.id, uses: 0 })]),
    );
  });

  it('the member who used a single-use invitation opens it again: the warehouse, unchanged', async () => {
    // The share card stays in the chat: tapping it again must not fail for someone already in.
    const { owner, dirId } = await ownerWithWarehouse('再次打开');
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk' });
    const clerk = await t.newUser();
    const first = await clerk.caller.invite.accept({ token: invite.token });
    const before = await snapshotAll(t.db);
    expect(await clerk.caller.invite.accept({ token: invite.token })).toEqual(first);
    expect(await snapshotAll(t.db)).toEqual(before);
  });

  it('5 simultaneous accepts of a single-use invitation: exactly 1 member added, 4 PRECONDITION_FAILED', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk' });
    const guests = await Promise.all(Array.from({ length: 5 }, () => t.newUser()));
    const results = await Promise.allSettled(guests.map((g) => g.caller.invite.accept({ token: invite.token })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => codeOf(r.reason));
    expect(ok).toHaveLength(1);
    expect(refused).toEqual(Array(4).fill('PRECONDITION_FAILED'));
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(2);
    expect(Number((await t.db('invites').where({ id: invite.id }).first()).uses)).toBe(1);
    expect(await logRows(t.db, dirId, 'member.join')).toHaveLength(1);
    const winner = guests[results.findIndex((r) => r.status === 'fulfilled')]!;
    expect(await t.db('directory_members').where({ directory_id: dirId, user_id: winner.userId }).first()).toMatchObject({ role: 'clerk' });
  });

  it('maxUses 3 with 6 simultaneous accepts: exactly 3 join', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 3 });
    const guests = await Promise.all(Array.from({ length: 6 }, () => t.newUser()));
    const results = await Promise.allSettled(guests.map((g) => g.caller.invite.accept({ token: invite.token })));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => codeOf(r.reason));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(refused).toEqual(Array(3).fill('PRECONDITION_FAILED'));
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(4);
    expect(Number((await t.db('invites').where({ id: invite.id }).first()).uses)).toBe(3);
    expect(await logRows(t.db, dirId, 'member.join')).toHaveLength(3);
  });

  it('the same user accepting twice at once joins once and uses one', async () => {
    const { owner, dirId } = await ownerWithWarehouse();
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 5 });
    const guest = await t.newUser();
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => guest.caller.invite.accept({ token: invite.token })));
    expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : codeOf(r.reason)))).toEqual(Array(4).fill('ok'));
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(2);
    expect(Number((await t.db('invites').where({ id: invite.id }).first()).uses)).toBe(1);
  });

  it('accepting writes a member.join entry naming the new member, visible to the team', async () => {
    const { owner, dirId, dirName } = await ownerWithWarehouse('日志仓库');
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk' });
    const clerk = await namedUser(t, '小王');
    const dir = await clerk.caller.invite.accept({ token: invite.token });
    expect(dir).toMatchObject({ id: dirId, name: dirName, role: 'clerk', ownerId: owner.userId, ownerNickname: '老板', memberCount: 2 });
    for (const viewer of [owner, clerk]) {
      const page = await viewer.caller.log.list({ directoryId: dirId, type: 'member.join' });
      expect(page.items).toHaveLength(1);
      expect(page.items[0]).toMatchObject({
        type: 'member.join',
        directoryId: dirId,
        directoryName: dirName,
        actorId: clerk.userId,
        actorName: '小王',
        targetUserId: clerk.userId,
      });
    }
    expect(await clerk.caller.directory.members({ directoryId: dirId })).toEqual([
      expect.objectContaining({ userId: owner.userId, role: 'owner' }),
      expect.objectContaining({ userId: clerk.userId, role: 'clerk', nickname: '小王' }),
    ]);
  });

  it('an invitation of a deleted warehouse → NOT_FOUND', async () => {
    const { owner, dirId } = await ownerWithWarehouse('将删除');
    const invite = await owner.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 5 });
    await owner.caller.directory.delete({ id: dirId });
    const guest = await t.newUser();
    await expectTRPCError(guest.caller.invite.preview({ token: invite.token }), 'NOT_FOUND');
    await expectTRPCError(guest.caller.invite.accept({ token: invite.token }), 'NOT_FOUND');
    expect(await countRows(t.db, 'directory_members', { directory_id: dirId })).toBe(1);
  });

  it('an invitation made by a member who was removed, left or demoted no longer lets anyone in', async () => {
    const { owner, dirId } = await ownerWithWarehouse('旧邀请');
    const manager = await namedUser(t, '前店长');
    await join(owner, dirId, 'manager', [manager]);
    const clerkInvite = await manager.caller.invite.create({ directoryId: dirId, role: 'clerk', maxUses: 100, expiresInHours: 168 });
    const viewerInvite = await manager.caller.invite.create({ directoryId: dirId, role: 'viewer', maxUses: 100 });

    // Demoted to clerk: a clerk cannot invite, so neither invitation works any more.
    await owner.caller.directory.setRole({ directoryId: dirId, userId: manager.userId, role: 'clerk' });
    const guest = await namedUser(t, '路人');
    await expectTRPCError(guest.caller.invite.preview({ token: viewerInvite.token }), 'NOT_FOUND');
    await expectTRPCError(guest.caller.invite.accept({ token: viewerInvite.token }), 'NOT_FOUND');

    // Removed: they cannot come back through the invitation they made themselves.
    await owner.caller.directory.removeMember({ directoryId: dirId, userId: manager.userId });
    const before = await snapshotAll(t.db);
    await expectTRPCError(manager.caller.invite.accept({ token: clerkInvite.token }), 'NOT_FOUND');
    await expectTRPCError(manager.caller.directory.get({ id: dirId }), 'NOT_FOUND');
    expect(await snapshotAll(t.db)).toEqual(before);
  });
});
