import mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isRetryableTxError, mysqlConnectionFromUrl, type Queryable } from '../../src/db/knex';
import { idempotent } from '../../src/domain/idempotency';
import { inTransaction, type Tx } from '../../src/db/tx';
import { useTestApp, type TestUser } from '../helpers/app';
import { countRows } from './helpers';

/*
 * inTransaction runs knex's builder on one held pool connection (src/db/tx.ts): everything in
 * it sees its own writes and nobody else does until COMMIT; an error rolls all of it back; the
 * connection always goes back to the pool, and one that may still hold a transaction never does.
 */
describe('inTransaction', () => {
  const t = useTestApp({ poolMax: 2 });
  let u: TestUser;
  let dir: number;
  beforeAll(async () => {
    u = await t.newUser();
    dir = (await u.caller.directory.create({ name: 'tx' })).id;
  });

  const logRow = (note: string) => ({ user_id: u.userId, type: 'stock.in', directory_name: note, created_at: t.now() });
  const count = (note: string) => countRows(t.db, 'logs', { user_id: u.userId, directory_name: note });

  it('sees its own writes, hides them from others until COMMIT, then commits them all', async () => {
    let seenInside = -1;
    let seenOutside = -1;
    await inTransaction(t.db, async (tx) => {
      await tx('logs').insert(logRow('commit'));
      await tx('directories')
        .where({ id: dir })
        .update({ use_count: tx.raw('?? + 1', ['use_count']) });
      const row = (await tx('logs').count({ n: '*' }).where({ directory_name: 'commit' }).first()) as { n: number | string };
      seenInside = Number(row.n);
      // SQLite has one connection, held by this transaction: an outside read would wait for it.
      if (t.kind === 'mysql') seenOutside = await count('commit');
    });
    expect(seenInside).toBe(1);
    if (t.kind === 'mysql') expect(seenOutside).toBe(0);
    expect(await count('commit')).toBe(1);
    expect(Number((await t.db('directories').where({ id: dir }).first()).use_count)).toBe(1);
  });

  it('rolls every statement back when the work throws, and hands the error back unchanged', async () => {
    const boom = new Error('refused half way');
    await expect(
      inTransaction(t.db, async (tx) => {
        await tx('logs').insert(logRow('rollback'));
        await tx('directories').where({ id: dir }).update({ name: 'renamed' });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await count('rollback')).toBe(0);
    expect((await t.db('directories').where({ id: dir }).first()).name).toBe('tx');
  });

  it('returns the connection to the pool after every outcome (a pool of 2 survives 40 transactions)', async () => {
    for (let i = 0; i < 20; i++) {
      await expect(
        inTransaction(t.db, async (tx) => {
          await tx('logs').insert(logRow('pool'));
          await tx('no_such_table').select('*');
        }),
      ).rejects.toThrow();
    }
    const ok = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        inTransaction(t.db, async (tx) => {
          await tx('logs').insert(logRow('pool-ok'));
          return i;
        }),
      ),
    );
    expect(ok).toHaveLength(20);
    expect(await count('pool')).toBe(0);
    expect(await count('pool-ok')).toBe(20);
  });

  it.runIf(process.env.TEST_DB !== 'sqlite')('never hands out again a connection that died inside a transaction', async () => {
    const base = mysqlConnectionFromUrl(t.tdb.url!);
    const admin = await mysql.createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
    let killedId = 0;
    try {
      const err = await inTransaction(t.db, async (tx) => {
        await tx('logs').insert(logRow('killed'));
        const [[row]] = (await tx.raw('select connection_id() as id')) as unknown as [[{ id: number }]];
        killedId = Number(row.id);
        await admin.query('KILL ?', [killedId]);
        await tx('logs').insert(logRow('killed'));
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isDatabaseUnavailable(err)).toBe(true);
    } finally {
      await admin.end();
    }
    expect(await count('killed')).toBe(0);
    // Every connection the pool hands out afterwards is alive, and none is the killed one.
    const ids = await Promise.all(
      Array.from({ length: 6 }, () =>
        inTransaction(t.db, async (tx) => {
          const [[row]] = (await tx.raw('select connection_id() as id')) as unknown as [[{ id: number }]];
          return Number(row.id);
        }),
      ),
    );
    expect(ids).not.toContain(killedId);
  });
});

/*
 * A real InnoDB deadlock: our transaction locks directory A then B while another, heavier one
 * locks B then A. InnoDB rolls back the lighter (ours); it must be retried and apply exactly once,
 * also when the deadlock strikes inside an idempotent change. SQLite has one writer and no
 * deadlocks, so this is MySQL only.
 */
describe('deadlock retry (MySQL)', () => {
  const t = useTestApp({ poolMax: 5 });
  let u: TestUser;
  let a: number;
  let b: number;
  beforeAll(async () => {
    u = await t.newUser();
    a = (await u.caller.directory.create({ name: 'A' })).id;
    b = (await u.caller.directory.create({ name: 'B' })).id;
  });

  const bump = (conn: Queryable, id: number) =>
    conn('directories')
      .where({ id })
      .update({ use_count: conn.raw('?? + 1', ['use_count']) });

  async function heavyOpponent(onLockedB: () => Promise<void>): Promise<void> {
    const other = await t.db.transaction();
    try {
      // Weight makes InnoDB choose our lighter transaction as the victim.
      for (let i = 0; i < 30; i++) {
        await other('logs').insert({ user_id: u.userId, type: 'stock.in', created_at: t.now() });
      }
      await bump(other, b);
      await onLockedB();
      await bump(other, a);
      await other.rollback();
    } catch (err) {
      await other.rollback().catch(() => undefined);
      throw err;
    }
  }

  function deadlockingOp(attempts: { n: number; errors: unknown[] }) {
    let lockedB!: () => void;
    const opponentHasB = new Promise<void>((resolve) => (lockedB = resolve));
    let releaseOpponent!: () => void;
    const weHaveA = new Promise<void>((resolve) => (releaseOpponent = resolve));
    const opponent = heavyOpponent(async () => {
      lockedB();
      await weHaveA;
    });
    const op = async (trx: Tx) => {
      attempts.n++;
      await opponentHasB;
      await bump(trx, a);
      if (attempts.n === 1) {
        releaseOpponent();
        await new Promise((r) => setTimeout(r, 100)); // let the opponent queue for A
        try {
          await bump(trx, b);
        } catch (err) {
          attempts.errors.push(err);
          throw err;
        }
      } else {
        await bump(trx, b);
      }
      return { applied: attempts.n };
    };
    return { op, opponent };
  }

  it.runIf(process.env.TEST_DB !== 'sqlite')('inTransaction retries a deadlock victim', async () => {
    const before = await t.db('directories').whereIn('id', [a, b]).orderBy('id').pluck('use_count');
    const attempts = { n: 0, errors: [] as unknown[] };
    const { op, opponent } = deadlockingOp(attempts);
    const result = await inTransaction(t.db, op);
    await opponent;
    expect(attempts.n).toBe(2);
    expect(attempts.errors).toHaveLength(1);
    expect(isRetryableTxError(attempts.errors[0])).toBe(true);
    expect(result).toEqual({ applied: 2 });
    const after = await t.db('directories').whereIn('id', [a, b]).orderBy('id').pluck('use_count');
    expect(after.map(Number)).toEqual(before.map((n) => Number(n) + 1));
  });

  it.runIf(process.env.TEST_DB !== 'sqlite')('a deadlock inside an idempotent change is retried and recorded once', async () => {
    const attempts = { n: 0, errors: [] as unknown[] };
    const { op, opponent } = deadlockingOp(attempts);
    const key = { userId: u.userId, requestId: 'dl-1', procedure: 'test.deadlock', input: { x: 1 }, now: t.now() };
    const result = await idempotent(t.db, key, op);
    await opponent;
    expect(attempts.n).toBe(2);
    expect(isRetryableTxError(attempts.errors[0])).toBe(true);
    expect(result).toEqual({ applied: 2 });
    expect(await countRows(t.db, 'request_results', { user_id: u.userId, request_id: 'dl-1' })).toBe(1);
    // The stored outcome is the successful retry's.
    expect(await idempotent(t.db, key, async () => ({ applied: -1 }))).toEqual({ applied: 2 });
  });
});
