import { TRPCError } from '@trpc/server';
import { type Actor, authorize, isRole, type MemberRole, notFound, type Role, teamAction } from '../access/access';
import { isUniqueViolation, toDate, type Db, type Queryable } from '../db/knex';
import { inTransaction, type Tx } from '../db/tx';
import { recordHistory } from '../history/history';
import { type Directory, getDirectory, lockDirectory } from './directories';

/*
 * The members of a warehouse (API.md `Member`, directory.members/setRole/removeMember/leave/
 * transferOwnership). Every change locks the warehouse row first, as stock changes do, so a stock
 * change waiting on that lock sees the membership as it is when it gets the lock.
 */

export interface Member {
  userId: number;
  nickname: string | null;
  avatarUrl: string | null;
  role: Role;
  joinedAt: Date;
}

interface MemberRow {
  user_id: number;
  nickname: string | null;
  avatar_url: string | null;
  role: string;
  joined_at: Date | number;
}

function toMember(row: MemberRow): Member {
  return {
    userId: Number(row.user_id),
    nickname: row.nickname,
    avatarUrl: row.avatar_url,
    role: isRole(row.role) ? row.role : 'viewer',
    joinedAt: toDate(row.joined_at),
  };
}

function membersOf(db: Queryable, directoryId: number) {
  return db('directory_members as dm')
    .join('users as u', 'u.id', 'dm.user_id')
    .select('dm.user_id', 'u.nickname', 'u.avatar_url', 'dm.role', 'dm.joined_at')
    .where('dm.directory_id', directoryId);
}

/** Everyone in the warehouse, the owner first, then by the time they joined. */
export async function listMembers(db: Db, userId: number, directoryId: number): Promise<Member[]> {
  const [mine] = (await db('directory_members as me')
    .join('directories as d', 'd.id', 'me.directory_id')
    .select('me.role')
    .where({ 'me.directory_id': directoryId, 'me.user_id': userId, 'd.live': 1 })) as { role: string }[];
  authorize(mine?.role, 'read', 'Directory');
  const rows = (await membersOf(db, directoryId)
    .orderByRaw('CASE WHEN ?? = ? THEN 0 ELSE 1 END', ['dm.role', 'owner'])
    .orderBy('dm.joined_at')
    .orderBy('dm.user_id')) as MemberRow[];
  return rows.map(toMember);
}

async function lockedMember(trx: Tx, directoryId: number, userId: number): Promise<Member> {
  const row = (await membersOf(trx, directoryId).where('dm.user_id', userId).first()) as MemberRow | undefined;
  if (!row) throw notFound('Member');
  return toMember(row);
}

function refuseSelf(actor: Actor, userId: number, what: string): void {
  if (actor.id === userId) {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `Nobody can ${what} themselves: use directory.leave to leave` });
  }
}

export async function setMemberRole(
  db: Db,
  actor: Actor,
  directoryId: number,
  userId: number,
  role: MemberRole,
  now: Date,
): Promise<Member> {
  return inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, actor.id, directoryId, 'team');
    refuseSelf(actor, userId, 'change the role of');
    const target = await lockedMember(trx, directoryId, userId);
    authorize(dir.role, teamAction(target.role, role), 'Directory');
    if (target.role === 'owner') {
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'The owner keeps that role: use directory.transferOwnership' });
    }
    if (target.role === role) return target;
    await trx('directory_members').where({ directory_id: directoryId, user_id: userId }).update({ role });
    await recordHistory(trx, {
      actor,
      type: 'member.role',
      directoryId,
      directoryName: dir.name,
      targetUserId: userId,
      note: `${target.role} → ${role}`,
      createdAt: now,
    });
    return { ...target, role };
  });
}

export async function removeMember(db: Db, actor: Actor, directoryId: number, userId: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, actor.id, directoryId, 'team');
    refuseSelf(actor, userId, 'remove');
    const target = await lockedMember(trx, directoryId, userId);
    authorize(dir.role, teamAction(target.role), 'Directory');
    if (target.role === 'owner') {
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'The owner cannot be removed: transfer ownership first' });
    }
    await trx('directory_members').where({ directory_id: directoryId, user_id: userId }).delete();
    await recordHistory(trx, { actor, type: 'member.remove', directoryId, directoryName: dir.name, targetUserId: userId, createdAt: now });
  });
}

export async function leaveDirectory(db: Db, actor: Actor, directoryId: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, actor.id, directoryId, 'read');
    if (dir.role === 'owner') {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'The owner cannot leave: transfer ownership (directory.transferOwnership) or delete the warehouse first',
      });
    }
    await trx('directory_members').where({ directory_id: directoryId, user_id: actor.id }).delete();
    await recordHistory(trx, { actor, type: 'member.leave', directoryId, directoryName: dir.name, targetUserId: actor.id, createdAt: now });
  });
}

/** The new owner must be a member; the old owner stays as a manager. */
export async function transferOwnership(db: Db, actor: Actor, directoryId: number, userId: number, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => {
    const dir = await lockDirectory(trx, actor.id, directoryId, 'own');
    refuseSelf(actor, userId, 'hand ownership to');
    await lockedMember(trx, directoryId, userId);
    try {
      // Warehouse names are unique per owner: the new owner may already have one of this name.
      await trx('directories').where({ id: directoryId }).update({ user_id: userId });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      throw new TRPCError({ code: 'CONFLICT', message: `The new owner already has a warehouse named "${dir.name}": rename one first` });
    }
    await trx('directory_members').where({ directory_id: directoryId, user_id: userId }).update({ role: 'owner' });
    await trx('directory_members').where({ directory_id: directoryId, user_id: actor.id }).update({ role: 'manager' });
    await recordHistory(trx, { actor, type: 'member.owner', directoryId, directoryName: dir.name, targetUserId: userId, createdAt: now });
    return getDirectory(trx, actor.id, directoryId);
  });
}
