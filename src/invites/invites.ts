import { TRPCError } from '@trpc/server';
import { type Actor, isRole, type MemberRole, notFound, type Role, teamAction } from '../access/access';
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

interface UsableInvite {
  id: number;
  directory_id: number;
  directory_name: string;
  role: string;
  inviter_nickname: string | null;
  expires_at: Date | number;
  max_uses: number;
  uses: number;
}

/**
 * The invitation a token names, refused as API.md says: unknown, revoked or of a deleted warehouse
 * → NOT_FOUND; expired or used up → PRECONDITION_FAILED.
 */
async function usableInvite(db: Queryable, token: string, now: Date): Promise<UsableInvite> {
  const row = (await db('invites as i')
    .join('directories as d', 'd.id', 'i.directory_id')
    .leftJoin('users as u', 'u.id', 'i.created_by')
    .select('i.id', 'i.directory_id', { directory_name: 'd.name' }, 'i.role', { inviter_nickname: 'u.nickname' })
    .select('i.expires_at', 'i.max_uses', 'i.uses')
    .where({ 'i.token_hash': hashToken(token), 'd.live': 1 })
    .whereNull('i.revoked_at')
    .first()) as UsableInvite | undefined;
  if (!row) throw notFound('Invite');
  if (toDate(row.expires_at).getTime() <= now.getTime()) {
    throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'This invitation has expired: ask for a new one' });
  }
  if (Number(row.uses) >= Number(row.max_uses)) usedUp();
  return row;
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
  const invite = await usableInvite(db, token, now);
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

export async function acceptInvite(db: Db, actor: Actor, token: string, now: Date): Promise<Directory> {
  return inTransaction(db, async (trx) => {
    const invite = await usableInvite(trx, token, now);
    const directoryId = Number(invite.directory_id);
    // The warehouse row first, as every membership change takes it: accepts queue here.
    const dir = (await forUpdate(trx('directories').select('id', 'name').where({ id: directoryId, live: 1 }), trx).first()) as
      | { id: number; name: string }
      | undefined;
    if (!dir) throw notFound('Invite');
    const member = await trx('directory_members').select('role').where({ directory_id: directoryId, user_id: actor.id }).first();
    if (member) return getDirectory(trx, actor.id, directoryId);
    const consumed = await trx('invites')
      .where({ id: invite.id })
      .whereNull('revoked_at')
      .where('expires_at', '>', now)
      .whereRaw('?? < ??', ['uses', 'max_uses'])
      .increment('uses', 1);
    if (Number(consumed) === 0) usedUp();
    await trx('directory_members').insert({ directory_id: directoryId, user_id: actor.id, role: invite.role, joined_at: now });
    await recordHistory(trx, {
      actor,
      type: 'member.join',
      directoryId,
      directoryName: dir.name,
      targetUserId: actor.id,
      note: invite.role,
      createdAt: now,
    });
    return getDirectory(trx, actor.id, directoryId);
  });
}
