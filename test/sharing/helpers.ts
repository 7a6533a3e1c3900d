import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import type { Db } from '../../src/db/knex';
import type { TestApp, TestUser } from '../helpers/app';

/** Every table the sharing feature (or anything a warehouse call) writes; sessions only move last_seen_at. */
export const SHARING_TABLES = ['users', 'directories', 'directory_members', 'invites', 'goods', 'logs', 'request_results'] as const;

const ORDER: Record<string, string[]> = { directory_members: ['directory_id', 'user_id'] };

/** Every row of every app table (sessions aside), for "nothing changed" comparisons. */
export async function snapshotAll(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of SHARING_TABLES) {
    out[table] = await db(table)
      .select('*')
      .orderBy((ORDER[table] ?? ['id']).map((column) => ({ column })));
  }
  return out;
}

export type Role = 'owner' | 'manager' | 'clerk' | 'viewer';

export interface NamedUser extends TestUser {
  nickname: string;
}

/** A fresh user with a nickname (history entries snapshot it). */
export async function namedUser(t: TestApp, nickname: string): Promise<NamedUser> {
  const u = await t.newUser();
  await u.caller.auth.updateProfile({ nickname });
  return { ...u, nickname };
}

/**
 * Makes `users` members of the warehouse with `role`, the way the app does it: the owner creates
 * one invitation for them all, each accepts it.
 */
export async function join(owner: TestUser, directoryId: number, role: Exclude<Role, 'owner'>, users: TestUser[]): Promise<void> {
  if (users.length === 0) return;
  const invite = await owner.caller.invite.create({ directoryId, role, maxUses: users.length });
  for (const u of users) await u.caller.invite.accept({ token: invite.token });
}

/** The tRPC code of a rejection, for comparing many outcomes at once. */
export function codeOf(reason: unknown): string {
  return reason instanceof TRPCError ? reason.code : `not a TRPCError: ${String(reason)}`;
}

/** The `logs` rows of one warehouse, oldest first, as plain numbers. */
export async function logRows(db: Db, directoryId: number, type?: string) {
  const q = db('logs').select('id', 'type', 'user_id', 'actor_name', 'target_user_id', 'delta', 'quantity_after', 'note');
  q.where({ directory_id: directoryId });
  if (type) q.where({ type });
  const rows = (await q.orderBy('id')) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    id: Number(r.id),
    type: r.type as string,
    userId: Number(r.user_id),
    actorName: r.actor_name as string | null,
    targetUserId: r.target_user_id === null ? null : Number(r.target_user_id),
    delta: r.delta === null ? null : Number(r.delta),
    quantityAfter: r.quantity_after === null ? null : Number(r.quantity_after),
    note: r.note as string | null,
  }));
}

export function expectSameRows(after: Record<string, unknown[]>, before: Record<string, unknown[]>): void {
  for (const table of SHARING_TABLES) expect(after[table], `table ${table} changed`).toEqual(before[table]);
}
