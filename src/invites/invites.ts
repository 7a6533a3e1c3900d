import { TRPCError } from '@trpc/server';
import { type Actor, isRole, type MemberRole, notFound, type Role, roleAllows, teamAction } from '../access/access';
import { generateToken, hashToken } from '../auth/sessions';
import { toDate, type Db, type Queryable } from '../db/knex';
import { forUpdate, inTransaction } from '../db/tx';
import { authorizeDirectory, type Directory, getDirectory, lockDirectory } from '../directory/directories';
import { recordHistory } from '../history/history';

/*
 * Invitations (API.md "invite"). The token is shown once, when the invitation is made; the database
 * keeps its SHA-256 only, so a leaked table cannot be used to join anything. An accept locks the
 * warehouse row and consumes a use with one conditional UPDATE, so concurrent accepts never exceed
 * maxUses, and a member who opens the invitation again consumes nothing.
 */

export interface Invite {
  id: number;
  directoryId: number;
  role: Role;
  createdBy: number;
  createdAt: Date;
  expiresAt: Date;
  maxUses: number;
  uses: number;
  revokedAt: Date | null;
}

interface InviteRow {
  id: number;
  directory_id: number;
  role: string;
  created_by: number;
  created_at: Date | number;
  expires_at: Date | number;
  max_uses: number;
  uses: number;
  revoked_at: Date | number | null;
}

const INVITE_COLUMNS = ['id', 'directory_id', 'role', 'created_by', 'created_at', 'expires_at', 'max_uses', 'uses', 'revoked_at'];

function toInvite(row: InviteRow): Invite {
  return {
    id: Number(row.id),
    directoryId: Number(row.directory_id),
    role: isRole(row.role) ? row.role : 'viewer',
    createdBy: Number(row.created_by),
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    maxUses: Number(row.max_uses),
    uses: Number(row.uses),
    revokedAt: row.revoked_at === null ? null : toDate(row.revoked_at),
  };
}

export interface NewInvite {
  directoryId: number;
  role: MemberRole;
  maxUses: number;
  expiresInHours: number;
}

export async function createInvite(db: Db, actor: Actor, input: NewInvite, now: Date): Promise<Invite & { token: string }> {
  return inTransaction(db, async (trx) => {
    await lockDirectory(trx, actor.id, input.directoryId, teamAction(input.role));
    const token = generateToken();
    const row = {
      directory_id: input.directoryId,
      role: input.role,
      token_hash: hashToken(token),
      created_by: actor.id,
      created_at: now,
      expires_at: new Date(now.getTime() + input.expiresInHours * 3_600_000),
      max_uses: input.maxUses,
      uses: 0,
      revoked_at: null,
    };
    const [id] = (await trx('invites').insert(row)) as number[];
    if (id === undefined) throw new Error('insert into invites returned no id');
    return { ...toInvite({ ...row, id }), token };
  });
}

/** The invitations that can still be used: not revoked, not expired, not used up. */
export async function listInvites(db: Db, userId: number, directoryId: number, now: Date): Promise<Invite[]> {
  await authorizeDirectory(db, userId, directoryId, 'team');
  const rows = (await db('invites')
    .select(INVITE_COLUMNS)
    .where({ directory_id: directoryId })
    .whereNull('revoked_at')
    .where('expires_at', '>', now)
    .whereRaw('?? < ??', ['uses', 'max_uses'])
    .orderBy('id', 'desc')) as InviteRow[];
  return rows.map(toInvite);
}

export async function revokeInvite(db: Db, actor: Actor, id: number, now: Date): Promise<void> {
  await inTransaction(db, async (trx) => {
    const found = (await trx('invites').select('directory_id', 'role').where({ id }).first()) as
      | { directory_id: number; role: string }
      | undefined;
    if (!found || !isRole(found.role)) throw notFound('Invite');
    await lockDirectory(trx, actor.id, Number(found.directory_id), teamAction(found.role), 'Invite');
    await trx('invites').where({ id }).whereNull('revoked_at').update({ revoked_at: now });
  });
}

interface InviteLookup {
  id: number;
  directory_id: number;
  directory_name: string;
  role: string;
  inviter_nickname: string | null;
  /** The inviter's role in the warehouse now, or null when they are no longer a member. */
  inviter_role: string | null;
  expires_at: Date | number;
  max_uses: number;
  uses: number;
}

/**
 * The invitation a token names, with its warehouse and its inviter's current role; undefined when
 * the token is unknown, revoked, or of a deleted warehouse. `lock` re-reads it with a locking read
 * (inside accept, after the warehouse row is locked) so that it sees what has been committed.
 */
async function findInvite(db: Queryable, token: string, lock: boolean): Promise<InviteLookup | undefined> {
  const query = db('invites as i')
    .join('directories as d', 'd.id', 'i.directory_id')
    .leftJoin('users as u', 'u.id', 'i.created_by')
    .leftJoin('directory_members as c', (on) => on.on('c.directory_id', 'i.directory_id').andOn('c.user_id', 'i.created_by'))
    .select('i.id', 'i.directory_id', { directory_name: 'd.name' }, 'i.role', { inviter_nickname: 'u.nickname', inviter_role: 'c.role' })
    .select('i.expires_at', 'i.max_uses', 'i.uses')
    .where({ 'i.token_hash': hashToken(token), 'd.live': 1 })
    .whereNull('i.revoked_at')
    .first();
  return (await (lock ? forUpdate(query, db) : query)) as InviteLookup | undefined;
}

/**
 * Refuses an invitation as API.md says: missing (unknown, revoked, deleted warehouse) → NOT_FOUND;
 * expired or used up → PRECONDITION_FAILED. An invitation whose inviter has since left, been
 * removed or lost the right to invite with that role is void, as if revoked: it cannot bring back
 * someone the team has just let go.
 */
function checkUsable(invite: InviteLookup | undefined, now: Date): InviteLookup {
  if (!invite || !isRole(invite.role) || invite.role === 'owner') throw notFound('Invite');
  if (!isRole(invite.inviter_role) || !roleAllows(invite.inviter_role, teamAction(invite.role))) throw notFound('Invite');
  if (toDate(invite.expires_at).getTime() <= now.getTime()) {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'This invitation has expired: ask for a new one' });
  }
  if (Number(invite.uses) >= Number(invite.max_uses)) usedUp();
  return invite;
}

function usedUp(): never {
  throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'This invitation has been used up: ask for a new one' });
}

export interface InvitePreview {
  directoryId: number;
  directoryName: string;
  role: Role;
  inviterNickname: string | null;
  memberCount: number;
  expiresAt: Date;
}

export async function previewInvite(db: Db, token: string, now: Date): Promise<InvitePreview> {
  const invite = checkUsable(await findInvite(db, token, false), now);
  const counted = (await db('directory_members').where({ directory_id: invite.directory_id }).count({ n: '*' }).first()) as
    | { n: number | string }
    | undefined;
  return {
    directoryId: Number(invite.directory_id),
    directoryName: invite.directory_name,
    role: isRole(invite.role) ? invite.role : 'viewer',
    inviterNickname: invite.inviter_nickname,
    memberCount: Number(counted?.n ?? 0),
    expiresAt: toDate(invite.expires_at),
  };
}

/**
 * Joins the warehouse an invitation names. Everything after the warehouse row's lock is read with
 * locking reads, so two accepts that queued on that lock (a double tap, or five colleagues at once)
 * each see what the other committed: one membership, and never more uses than maxUses.
 */
export async function acceptInvite(db: Db, actor: Actor, token: string, now: Date): Promise<Directory> {
  const directoryId = await inTransaction(db, async (trx) => {
    const found = await findInvite(trx, token, false);
    if (!found) throw notFound('Invite');
    const id = Number(found.directory_id);
    // The warehouse row first, as every membership change takes it: accepts queue here.
    const dir = (await forUpdate(trx('directories').select('id', 'name').where({ id, live: 1 }), trx).first()) as
      | { id: number; name: string }
      | undefined;
    if (!dir) throw notFound('Invite');
    const member = await forUpdate(trx('directory_members').select('role').where({ directory_id: id, user_id: actor.id }), trx).first();
    // Already a member: the warehouse back, no use consumed, whatever state the invitation is in.
    if (member) return id;
    const invite = checkUsable(await findInvite(trx, token, true), now);
    const consumed = await trx('invites')
      .where({ id: invite.id })
      .whereNull('revoked_at')
      .whereRaw('?? < ??', ['uses', 'max_uses'])
      .increment('uses', 1);
    if (Number(consumed) === 0) usedUp();
    await trx('directory_members').insert({ directory_id: id, user_id: actor.id, role: invite.role, joined_at: now });
    await recordHistory(trx, {
      actor,
      type: 'member.join',
      directoryId: id,
      directoryName: dir.name,
      targetUserId: actor.id,
      note: invite.role,
      createdAt: now,
    });
    return id;
  });
  // Read after commit: inside the transaction a MySQL snapshot could predate other members' joins.
  return getDirectory(db, actor.id, directoryId);
}
