import { TRPCError } from '@trpc/server';
import type { Knex } from 'knex';

/*
 * Who may do what in a warehouse (API.md "Roles"). Every query that names a warehouse, a goods, a
 * stocktake or a history row joins the caller's membership in the same statement that loads the
 * object (`joinMembership`) and hands the role it found to `authorize`: a missing membership reads
 * as a missing object (NOT_FOUND, never revealing which), a role below the action's FORBIDDEN.
 */

export const ROLES = ['viewer', 'clerk', 'manager', 'owner'] as const;
export type Role = (typeof ROLES)[number];
/** The roles a member can be given or invited with: there is one owner, moved by transferOwnership. */
export const MEMBER_ROLES = ['manager', 'clerk', 'viewer'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

/** What a procedure does to a warehouse, each with the lowest role that may do it. */
const LOWEST_ROLE = {
  /** See the warehouse, its goods, members, history, reports; scan; export. */
  read: 'viewer',
  /** Stock in/out, transfer, count during a stocktake. */
  stock: 'clerk',
  /** Edit and delete goods, adjust, run stocktakes, import, rename the warehouse. */
  manage: 'manager',
  /** Invitations and members who are clerks or viewers. */
  team: 'manager',
  /** Managers' memberships, ownership, deleting the warehouse. */
  own: 'owner',
} as const satisfies Record<string, Role>;
export type Action = keyof typeof LOWEST_ROLE;

const RANK: Record<Role, number> = { viewer: 1, clerk: 2, manager: 3, owner: 4 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

export function roleAllows(role: Role, action: Action): boolean {
  return RANK[role] >= RANK[LOWEST_ROLE[action]];
}

export type Missing = 'Directory' | 'Goods' | 'Member' | 'Invite' | 'Stocktake' | 'Import';

export function notFound(what: Missing): TRPCError {
  return new TRPCError({ code: 'NOT_FOUND', message: `${what} not found` });
}

/**
 * Refuses unless `role` (the caller's membership as loaded with the object, or nothing) allows
 * `action`: NOT_FOUND for a non-member or a missing object, FORBIDDEN for a role too low.
 */
export function authorize(role: unknown, action: Action, missing: Missing): Role {
  if (!isRole(role)) throw notFound(missing);
  if (!roleAllows(role, action)) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `A ${role} of this warehouse cannot do this: it needs a ${LOWEST_ROLE[action]} or above`,
    });
  }
  return role;
}

/**
 * The action that changing (or removing, or inviting) a membership needs: managers handle clerks
 * and viewers; only the owner hands out or takes back the manager role.
 */
export function teamAction(...roles: Role[]): Action {
  return roles.some((r) => RANK[r] >= RANK.manager) ? 'own' : 'team';
}

/**
 * Joins the caller's membership of the warehouse `directoryColumn` names, as `alias`, selecting its
 * role as `role`: rows of warehouses the caller does not belong to drop out of the query.
 */
export function joinMembership(query: Knex.QueryBuilder, userId: Knex.Value, directoryColumn: string, alias = 'm'): Knex.QueryBuilder {
  return query
    .join(`directory_members as ${alias}`, (on) => on.on(`${alias}.directory_id`, directoryColumn).andOnVal(`${alias}.user_id`, userId))
    .select({ role: `${alias}.role` });
}

/**
 * joinMembership for a locking read that takes the warehouse row's lock: on MySQL the warehouse row
 * is read (and locked) first, forced by STRAIGHT_JOIN, then the membership row. A membership change
 * locks the warehouse row first too, so the two queue on that one row instead of each holding the
 * other's second lock (a deadlock), and a stock change that waited sees the membership as committed.
 */
export function joinMembershipForUpdate(
  query: Knex.QueryBuilder,
  userId: Knex.Value,
  directoryColumn: string,
  kind: 'mysql' | 'sqlite',
): Knex.QueryBuilder {
  if (kind === 'sqlite') return joinMembership(query, userId, directoryColumn);
  return query
    .joinRaw('STRAIGHT_JOIN ?? AS ?? ON ?? = ?? AND ?? = ?', [
      'directory_members',
      'm',
      'm.directory_id',
      directoryColumn,
      'm.user_id',
      userId,
    ])
    .select({ role: 'm.role' })
    .forUpdate();
}

/** Who is acting: the session's user, with the nickname history entries keep as a snapshot. */
export interface Actor {
  id: number;
  nickname: string | null;
}
