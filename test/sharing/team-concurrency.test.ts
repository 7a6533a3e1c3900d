import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';
import { countRows, expectTRPCError } from '../domain/helpers';
import { codeOf, join, logRows, namedUser } from './helpers';

/*
 * Several writers in one warehouse. On MySQL the pool has room for every racer at once, so they
 * really contend for the warehouse and goods rows; SQLite serialises writers and must give the
 * same totals. The membership check of a stock change runs inside its transaction, after the
 * warehouse row is locked, so a removal or a lowered role applies to every change that commits
 * after it.
 */
describe('a team writing to one warehouse', () => {
  const t = useTestApp({ poolMax: 40 });

  async function team(name: string) {
    const owner = await namedUser(t, '老板');
    const manager = await namedUser(t, '经理');
    const clerk = await namedUser(t, '店员');
    const dirId = (await owner.caller.directory.create({ name })).id;
    await join(owner, dirId, 'manager', [manager]);
    await join(owner, dirId, 'clerk', [clerk]);
    return { owner, manager, clerk, dirId };
  }

  it('owner, manager and clerk: 60 stock-outs of 1 against 45 on hand → 45 succeed, 0 left, 45 entries with their actors', async () => {
    const x = await team('抢购');
    const { goods } = await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'HOT', quantity: 45 });
    const people = [x.owner, x.manager, x.clerk];
    const calls = Array.from({ length: 60 }, (_, i) => people[i % 3]!);
    const results = await Promise.allSettled(calls.map((p) => p.caller.goods.stockOut({ directoryId: x.dirId, code: 'HOT' })));

    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => codeOf(r.reason));
    expect(refused).toEqual(Array(15).fill('PRECONDITION_FAILED'));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(45);
    expect((await x.clerk.caller.goods.get({ id: goods.id })).quantity).toBe(0);

    const outs = await logRows(t.db, x.dirId, 'stock.out');
    expect(outs).toHaveLength(45);
    // Each success saw a distinct quantity on its way down: no lost update.
    expect(outs.map((e) => e.quantityAfter).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(outs.every((e) => e.delta === -1)).toBe(true);
    // Each entry names who did it: as many per person as their calls that succeeded.
    for (const p of people) {
      const succeeded = results.filter((r, i) => r.status === 'fulfilled' && calls[i] === p).length;
      expect(outs.filter((e) => e.userId === p.userId).length, p.nickname).toBe(succeeded);
      expect(outs.filter((e) => e.userId === p.userId).every((e) => e.actorName === p.nickname)).toBe(true);
    }
    // What each caller was told matches the history.
    const told = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.goods.quantity] : []));
    expect(told.sort((a, b) => a - b)).toEqual(Array.from({ length: 45 }, (_, i) => i));
  });

  it('a clerk removed during their burst of stock-ins: every acknowledged change counted once, none after the removal', async () => {
    const x = await team('移除中');
    await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'B-1', quantity: 100 });
    const N = 80;
    const WORKERS = 6;
    const REMOVE_AFTER = 12;

    // A global sequence orders what the test saw: when each call started and ended, when the removal returned.
    let seq = 0;
    type Outcome = { i: number; startedAt: number; endedAt: number; quantity?: number; code?: string };
    const outcomes: Outcome[] = [];
    let acknowledged = 0;
    let removal: Promise<number> | undefined;
    let next = 0;
    const input = (i: number) => ({ directoryId: x.dirId, code: 'B-1', quantity: 1, requestId: `burst-${i}` });

    const worker = async () => {
      while (next < N) {
        const i = next++;
        const startedAt = seq++;
        try {
          const r = await x.clerk.caller.goods.stockIn(input(i));
          outcomes.push({ i, startedAt, endedAt: seq++, quantity: r.goods.quantity });
          if (++acknowledged === REMOVE_AFTER) {
            removal = x.owner.caller.directory.removeMember({ directoryId: x.dirId, userId: x.clerk.userId }).then(() => seq++);
          }
        } catch (err) {
          outcomes.push({ i, startedAt, endedAt: seq++, code: codeOf(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    expect(removal, 'the removal was started midway').toBeDefined();
    const removedAt = await removal!;

    const acks = outcomes.filter((o) => o.quantity !== undefined);
    const refusals = outcomes.filter((o) => o.code !== undefined);
    expect(refusals.map((o) => o.code)).toEqual(refusals.map(() => 'NOT_FOUND'));
    expect(acks.length).toBeGreaterThanOrEqual(REMOVE_AFTER);
    expect(refusals.length, 'some calls came after the removal').toBeGreaterThan(0);
    // A call that started after the removal returned was refused.
    expect(acks.filter((o) => o.startedAt > removedAt)).toEqual([]);

    // Every acknowledged change is in the quantity and in the history exactly once...
    const goods = await x.owner.caller.goods.scan({ directoryId: x.dirId, code: 'B-1' });
    expect(goods!.quantity).toBe(100 + acks.length);
    const ins = (await logRows(t.db, x.dirId, 'stock.in')).filter((e) => e.userId === x.clerk.userId);
    expect(ins).toHaveLength(acks.length);
    expect(ins.map((e) => e.quantityAfter).sort((a, b) => a! - b!)).toEqual(acks.map((o) => o.quantity).sort((a, b) => a! - b!));
    // ...and committed before the removal: the removal's entry comes after all of them.
    const [removed] = await logRows(t.db, x.dirId, 'member.remove');
    expect(removed).toMatchObject({ userId: x.owner.userId, targetUserId: x.clerk.userId });
    expect(ins.every((e) => e.id < removed!.id)).toBe(true);
    expect((await logRows(t.db, x.dirId)).filter((e) => e.id > removed!.id)).toEqual([]);

    // Retries of the whole burst: the acknowledged ones replay their result, the others stay
    // refused; nothing is applied again.
    for (const o of outcomes) {
      if (o.quantity !== undefined) expect((await x.clerk.caller.goods.stockIn(input(o.i))).goods.quantity).toBe(o.quantity);
      else await expectTRPCError(x.clerk.caller.goods.stockIn(input(o.i)), 'NOT_FOUND');
    }
    expect((await x.owner.caller.goods.scan({ directoryId: x.dirId, code: 'B-1' }))!.quantity).toBe(100 + acks.length);
    expect(await countRows(t.db, 'logs', { directory_id: x.dirId, type: 'stock.in', user_id: x.clerk.userId })).toBe(acks.length);
  });

  it('a clerk lowered to viewer: the next stock change is FORBIDDEN, reading still works', async () => {
    const x = await team('降级');
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'V-1', quantity: 5 });
    await x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.clerk.userId, role: 'viewer' });
    await expectTRPCError(x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'V-1' }), 'FORBIDDEN');
    await expectTRPCError(x.clerk.caller.goods.stockOut({ directoryId: x.dirId, code: 'V-1', requestId: 'after-demotion' }), 'FORBIDDEN');
    expect((await x.clerk.caller.goods.scan({ directoryId: x.dirId, code: 'V-1' }))!.quantity).toBe(5);
    expect(await countRows(t.db, 'logs', { directory_id: x.dirId, user_id: x.clerk.userId })).toBe(2); // join + one stock.in
    // Raised again, the same requestId is not held against them (a FORBIDDEN is not recorded).
    await x.manager.caller.directory.setRole({ directoryId: x.dirId, userId: x.clerk.userId, role: 'clerk' });
    expect((await x.clerk.caller.goods.stockOut({ directoryId: x.dirId, code: 'V-1', requestId: 'after-demotion' })).goods.quantity).toBe(
      4,
    );
  });

  it('a role lowered while a stock change waits for the warehouse lock applies to that change', async () => {
    const x = await team('等待中');
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'W-1', quantity: 5 });
    // Hold the warehouse row as a membership change does, start the clerk's stock-out, then lower
    // the clerk's role in that same transaction and commit.
    const trx = await t.db.transaction();
    let settled = false;
    let pending: Promise<unknown>;
    try {
      await trx('directories').where({ id: x.dirId }).forUpdate().first();
      pending = x.clerk.caller.goods.stockOut({ directoryId: x.dirId, code: 'W-1' });
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      if (t.kind === 'mysql') await waitForLockWait(t.db);
      else await new Promise((r) => setTimeout(r, 200));
      expect(settled, 'the stock-out waits for the lock').toBe(false);
      await trx('directory_members').where({ directory_id: x.dirId, user_id: x.clerk.userId }).update({ role: 'viewer' });
      await trx.commit();
    } catch (err) {
      await trx.rollback();
      throw err;
    }
    await expectTRPCError(pending!, 'FORBIDDEN');
    expect((await x.owner.caller.goods.scan({ directoryId: x.dirId, code: 'W-1' }))!.quantity).toBe(5);
    expect(await countRows(t.db, 'logs', { directory_id: x.dirId, type: 'stock.out' })).toBe(0);
  });

  it('a removal committed while a stock change waits for the warehouse lock: that change → NOT_FOUND', async () => {
    const x = await team('等待移除');
    await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'W-2', quantity: 5 });
    const trx = await t.db.transaction();
    let pending: Promise<unknown>;
    try {
      await trx('directories').where({ id: x.dirId }).forUpdate().first();
      pending = x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'W-2', requestId: 'waiting' });
      pending.catch(() => {});
      if (t.kind === 'mysql') await waitForLockWait(t.db);
      else await new Promise((r) => setTimeout(r, 200));
      await trx('directory_members').where({ directory_id: x.dirId, user_id: x.clerk.userId }).delete();
      await trx.commit();
    } catch (err) {
      await trx.rollback();
      throw err;
    }
    await expectTRPCError(pending!, 'NOT_FOUND');
    expect((await x.owner.caller.goods.scan({ directoryId: x.dirId, code: 'W-2' }))!.quantity).toBe(5);
  });

  it('a requestId is per user: two members sending the same requestId both apply', async () => {
    const x = await team('同号');
    await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'S-1', quantity: 10 });
    const [a, b] = await Promise.all([
      x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'S-1', quantity: 2, requestId: 'scan-0001' }),
      x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'S-1', quantity: 3, requestId: 'scan-0001' }),
    ]);
    // Whichever went first: 10 + 2 then + 3, or 10 + 3 then + 2.
    expect([
      [12, 15],
      [15, 13],
    ]).toContainEqual([a.goods.quantity, b.goods.quantity]);
    expect((await x.manager.caller.goods.scan({ directoryId: x.dirId, code: 'S-1' }))!.quantity).toBe(15);
    const ins = (await logRows(t.db, x.dirId, 'stock.in')).slice(1);
    expect(ins.map((e) => [e.userId, e.delta]).sort()).toEqual(
      [
        [x.owner.userId, 2],
        [x.clerk.userId, 3],
      ].sort(),
    );
    expect(await countRows(t.db, 'request_results', { request_id: 'scan-0001' })).toBe(2);
    // Each replays their own result; a third member's first use of it applies too.
    expect(await x.owner.caller.goods.stockIn({ directoryId: x.dirId, code: 'S-1', quantity: 2, requestId: 'scan-0001' })).toEqual(a);
    expect(await x.clerk.caller.goods.stockIn({ directoryId: x.dirId, code: 'S-1', quantity: 3, requestId: 'scan-0001' })).toEqual(b);
    const c = await x.manager.caller.goods.stockOut({ directoryId: x.dirId, code: 'S-1', quantity: 1, requestId: 'scan-0001' });
    expect(c.goods.quantity).toBe(14);
  });
});

/** Waits until some InnoDB transaction is waiting for a lock (the stock change queued behind ours). */
async function waitForLockWait(db: ReturnType<typeof useTestApp>['db']): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const [rows] = (await db.raw(
      `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
       WHERE t.trx_state = 'LOCK WAIT' AND p.db = DATABASE()`,
    )) as [{ n: number | string }[]];
    if (Number(rows[0]?.n) > 0) return;
    // InnoDB refreshes this table only when it was last read more than 100 ms ago.
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error('no transaction started waiting for the warehouse lock');
}
