import { TRPCError } from '@trpc/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Caller, useTestApp } from '../helpers/app';
import { expectSameRows, join, type NamedUser, namedUser, type Role, snapshotAll } from './helpers';

/*
 * The whole role × procedure matrix of API.md "Roles (v2)", generated from ONE table: each row names
 * a procedure (with the variant of its input that decides the role it needs), the lowest role allowed
 * to call it and how to call it. Every row runs for the owner, a manager, a clerk, a viewer and a
 * non-member, each against a warehouse and team of its own, so that a success never changes what
 * the next case sees:
 *
 *   at or above the lowest role → success (a mutation changes the database, a query does not)
 *   below it                    → FORBIDDEN, nothing changed in any table
 *   not a member                → NOT_FOUND (never naming the warehouse), nothing changed
 *
 * The users are made once; each case gets a fresh warehouse, its goods, and its team (invited by
 * the owner with invite.create, joined with invite.accept).
 */

const ROLES: Role[] = ['owner', 'manager', 'clerk', 'viewer'];
type Who = Role | 'outsider';
const WHO: Who[] = [...ROLES, 'outsider'];
const RANK: Record<Role, number> = { viewer: 1, clerk: 2, manager: 3, owner: 4 };

interface Team {
  dirId: number;
  dirName: string;
  goodsId: number;
  code: string;
  /** A second clerk and a second manager: the targets of setRole/removeMember/transferOwnership. */
  targetClerk: NamedUser;
  targetManager: NamedUser;
  /** Live invitations of the team (one use left each), for invite.revoke. */
  clerkInviteId: number;
  managerInviteId: number;
}

type Outcome = 'ok' | 'FORBIDDEN' | 'NOT_FOUND' | 'PRECONDITION_FAILED' | 'empty page';

interface Row {
  name: string;
  lowest: Role;
  kind: 'query' | 'mutation';
  call: (c: Caller, team: Team) => Promise<unknown>;
  /** Outcomes that differ from the rule for some callers (API.md says so). */
  except?: Partial<Record<Who, Outcome>>;
  /** The call carries this requestId: a success replays, a refusal may leave the caller's record of it. */
  requestId?: (team: Team) => string;
}

/** log.list narrows the caller's visible history: another team's ids yield an empty page (API.md "log"). */
const LOG_OUTSIDER: Partial<Record<Who, Outcome>> = { outsider: 'empty page' };

const MATRIX: Row[] = [
  { name: 'directory.get', lowest: 'viewer', kind: 'query', call: (c, x) => c.directory.get({ id: x.dirId }) },
  {
    name: 'directory.rename',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.directory.rename({ id: x.dirId, name: `${x.dirName}-r` }),
  },
  { name: 'directory.delete', lowest: 'owner', kind: 'mutation', call: (c, x) => c.directory.delete({ id: x.dirId }) },
  { name: 'directory.members', lowest: 'viewer', kind: 'query', call: (c, x) => c.directory.members({ directoryId: x.dirId }) },
  {
    name: 'directory.setRole clerk → viewer',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.directory.setRole({ directoryId: x.dirId, userId: x.targetClerk.userId, role: 'viewer' }),
  },
  {
    name: 'directory.setRole clerk → manager',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.directory.setRole({ directoryId: x.dirId, userId: x.targetClerk.userId, role: 'manager' }),
  },
  {
    name: 'directory.setRole manager → clerk',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.directory.setRole({ directoryId: x.dirId, userId: x.targetManager.userId, role: 'clerk' }),
  },
  {
    name: 'directory.removeMember (a clerk)',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.directory.removeMember({ directoryId: x.dirId, userId: x.targetClerk.userId }),
  },
  {
    name: 'directory.removeMember (a manager)',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.directory.removeMember({ directoryId: x.dirId, userId: x.targetManager.userId }),
  },
  {
    name: 'directory.leave',
    lowest: 'viewer',
    kind: 'mutation',
    call: (c, x) => c.directory.leave({ directoryId: x.dirId }),
    // The owner must transfer ownership or delete the warehouse first.
    except: { owner: 'PRECONDITION_FAILED' },
  },
  {
    name: 'directory.transferOwnership',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.directory.transferOwnership({ directoryId: x.dirId, userId: x.targetClerk.userId }),
  },
  { name: 'goods.scan', lowest: 'viewer', kind: 'query', call: (c, x) => c.goods.scan({ directoryId: x.dirId, code: x.code }) },
  {
    name: 'goods.stockIn',
    lowest: 'clerk',
    kind: 'mutation',
    call: (c, x) => c.goods.stockIn({ directoryId: x.dirId, code: x.code, quantity: 2 }),
  },
  {
    name: 'goods.stockIn (a new code)',
    lowest: 'clerk',
    kind: 'mutation',
    call: (c, x) => c.goods.stockIn({ directoryId: x.dirId, code: 'planted', name: 'new' }),
  },
  {
    name: 'goods.stockIn (requestId)',
    lowest: 'clerk',
    kind: 'mutation',
    requestId: (x) => `in-${x.dirId}`,
    call: (c, x) => c.goods.stockIn({ directoryId: x.dirId, code: x.code, quantity: 3, requestId: `in-${x.dirId}` }),
  },
  {
    name: 'goods.stockOut (requestId)',
    lowest: 'clerk',
    kind: 'mutation',
    requestId: (x) => `out-${x.dirId}`,
    call: (c, x) => c.goods.stockOut({ directoryId: x.dirId, code: x.code, quantity: 3, requestId: `out-${x.dirId}` }),
  },
  { name: 'goods.stockOut', lowest: 'clerk', kind: 'mutation', call: (c, x) => c.goods.stockOut({ directoryId: x.dirId, code: x.code }) },
  { name: 'goods.list', lowest: 'viewer', kind: 'query', call: (c, x) => c.goods.list({ directoryId: x.dirId }) },
  { name: 'goods.list (search)', lowest: 'viewer', kind: 'query', call: (c, x) => c.goods.list({ directoryId: x.dirId, search: 'M' }) },
  { name: 'goods.get', lowest: 'viewer', kind: 'query', call: (c, x) => c.goods.get({ id: x.goodsId }) },
  { name: 'goods.update', lowest: 'manager', kind: 'mutation', call: (c, x) => c.goods.update({ id: x.goodsId, name: 'renamed' }) },
  { name: 'goods.delete', lowest: 'manager', kind: 'mutation', call: (c, x) => c.goods.delete({ id: x.goodsId }) },
  {
    name: 'invite.create (viewer)',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.invite.create({ directoryId: x.dirId, role: 'viewer' }),
  },
  {
    name: 'invite.create (clerk)',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.invite.create({ directoryId: x.dirId, role: 'clerk' }),
  },
  {
    name: 'invite.create (manager)',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.invite.create({ directoryId: x.dirId, role: 'manager', maxUses: 5 }),
  },
  { name: 'invite.list', lowest: 'manager', kind: 'query', call: (c, x) => c.invite.list({ directoryId: x.dirId }) },
  {
    name: 'invite.revoke (a clerk invitation)',
    lowest: 'manager',
    kind: 'mutation',
    call: (c, x) => c.invite.revoke({ id: x.clerkInviteId }),
  },
  {
    name: 'invite.revoke (a manager invitation)',
    lowest: 'owner',
    kind: 'mutation',
    call: (c, x) => c.invite.revoke({ id: x.managerInviteId }),
  },
  {
    name: 'log.list (directoryId)',
    lowest: 'viewer',
    kind: 'query',
    call: (c, x) => c.log.list({ directoryId: x.dirId }),
    except: LOG_OUTSIDER,
  },
  {
    name: 'log.list (goodsId)',
    lowest: 'viewer',
    kind: 'query',
    call: (c, x) => c.log.list({ goodsId: x.goodsId }),
    except: LOG_OUTSIDER,
  },
  {
    name: 'log.list (directoryId, actorId)',
    lowest: 'viewer',
    kind: 'query',
    call: (c, x) => c.log.list({ directoryId: x.dirId, actorId: x.targetClerk.userId }),
    except: LOG_OUTSIDER,
  },
];

function expected(row: Row, who: Who): Outcome {
  const special = row.except?.[who];
  if (special) return special;
  if (who === 'outsider') return 'NOT_FOUND';
  return RANK[who] >= RANK[row.lowest] ? 'ok' : 'FORBIDDEN';
}

const CASES = MATRIX.flatMap((row) => WHO.map((who) => ({ row, who, outcome: expected(row, who) })));

describe('roles × procedures (API.md "Roles (v2)")', () => {
  const t = useTestApp();
  let users: Record<Who, NamedUser> & { targetClerk: NamedUser; targetManager: NamedUser };
  let seq = 0;

  beforeAll(async () => {
    const make = (n: string) => namedUser(t, n);
    users = {
      owner: await make('老板'),
      manager: await make('经理'),
      clerk: await make('店员'),
      viewer: await make('会计'),
      outsider: await make('路人'),
      targetClerk: await make('店员二'),
      targetManager: await make('经理二'),
    };
  });

  async function team(): Promise<Team> {
    const owner = users.owner;
    const dirName = `仓库-${++seq}`;
    const dirId = (await owner.caller.directory.create({ name: dirName })).id;
    const code = 'M-1';
    const goodsId = (await owner.caller.goods.stockIn({ directoryId: dirId, code, name: 'Milk', quantity: 10 })).goods.id;
    // Three uses each, two taken: the invitations stay live for invite.list/revoke.
    const managerInvite = await owner.caller.invite.create({ directoryId: dirId, role: 'manager', maxUses: 3 });
    const clerkInvite = await owner.caller.invite.create({ directoryId: dirId, role: 'clerk', maxUses: 3 });
    for (const u of [users.manager, users.targetManager]) await u.caller.invite.accept({ token: managerInvite.token });
    for (const u of [users.clerk, users.targetClerk]) await u.caller.invite.accept({ token: clerkInvite.token });
    await join(owner, dirId, 'viewer', [users.viewer]);
    // One entry by the second clerk, for the actorId filter.
    await users.targetClerk.caller.goods.stockIn({ directoryId: dirId, code });
    return {
      dirId,
      dirName,
      goodsId,
      code,
      targetClerk: users.targetClerk,
      targetManager: users.targetManager,
      clerkInviteId: clerkInvite.id,
      managerInviteId: managerInvite.id,
    };
  }

  it('the table covers every procedure that names a warehouse or something in it', () => {
    const named = new Set(MATRIX.map((r) => r.name.split(' ')[0]));
    expect([...named].sort()).toEqual(
      [
        'directory.get',
        'directory.rename',
        'directory.delete',
        'directory.members',
        'directory.setRole',
        'directory.removeMember',
        'directory.leave',
        'directory.transferOwnership',
        'goods.scan',
        'goods.stockIn',
        'goods.stockOut',
        'goods.list',
        'goods.get',
        'goods.update',
        'goods.delete',
        'invite.create',
        'invite.list',
        'invite.revoke',
        'log.list',
      ].sort(),
    );
  });

  /*
   * Teams are built a row's worth (one per caller) at a time, concurrently: on MySQL that overlaps
   * their round trips. All of them are finished before a case runs, so nothing else writes while
   * a case compares the tables, and the tables grow only as fast as the cases use them.
   */
  const ahead: Team[] = [];
  async function nextTeam(): Promise<Team> {
    if (ahead.length === 0) ahead.push(...(await Promise.all(WHO.map(() => team()))));
    return ahead.shift()!;
  }

  it.each(CASES.map((c) => [c.row.name, c.who, c.outcome, c] as const))('%s by %s → %s', async (_name, who, outcome, { row }) => {
    const x = await nextTeam();
    const caller = users[who];
    const before = await snapshotAll(t.db);
    let result: unknown;
    let error: unknown;
    try {
      result = await row.call(caller.caller, x);
    } catch (err) {
      error = err;
    }
    const after = await snapshotAll(t.db);

    if (outcome === 'ok' || outcome === 'empty page') {
      expect(error, `expected success, got ${String(error)}`).toBeUndefined();
      if (outcome === 'empty page') expect(result).toEqual({ items: [], nextCursor: null });
      if (row.kind === 'query') {
        expectSameRows(after, before);
        if (outcome === 'ok' && row.name.startsWith('log.list')) expect((result as { items: unknown[] }).items.length).toBeGreaterThan(0);
      } else {
        expect(after, 'a successful mutation changed nothing').not.toEqual(before);
      }
      if (row.requestId) {
        // The same requestId again: the first result, nothing applied twice.
        expect(await row.call(caller.caller, x)).toEqual(result);
        expectSameRows(await snapshotAll(t.db), after);
      }
      return;
    }
    expect(error, 'expected a refusal, but the call succeeded').toBeInstanceOf(TRPCError);
    expect((error as TRPCError).code).toBe(outcome);
    if (outcome === 'NOT_FOUND') expect((error as TRPCError).message).not.toContain(x.dirName);
    // A refusal leaves every table as it was; with a requestId, the caller may keep a record of
    // their own refused request (src/domain/idempotency.ts replays NOT_FOUND and
    // PRECONDITION_FAILED), and nothing else.
    if (row.requestId) {
      const requestId = row.requestId(x);
      const own = (r: unknown) => {
        const rr = r as { user_id: number; request_id: string };
        return Number(rr.user_id) === caller.userId && rr.request_id === requestId;
      };
      const recorded = after.request_results!.filter(own) as { response: string }[];
      expect(recorded.length).toBeLessThanOrEqual(1);
      for (const r of recorded) expect(r.response).toContain(outcome);
      after.request_results = after.request_results!.filter((r) => !own(r));
    }
    expectSameRows(after, before);
  });
});
