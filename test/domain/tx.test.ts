import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryableTxError } from '../../src/db/knex';
import { idempotent } from '../../src/domain/idempotency';
import type { Queryable } from '../../src/db/knex';
import { inTransaction, type Tx } from '../../src/domain/tx';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app';
import { createTestDb, type TestDb } from '../helpers/db';
import { countRows } from './helpers';

/*
 * A real InnoDB deadlock: our transaction locks directory A then B while another, heavier one
 * locks B then A. InnoDB rolls back the lighter (ours); it must be retried and apply exactly once,
 * also when the deadlock strikes inside an idempotent change. SQLite has one writer and no
 * deadlocks, so this is MySQL only.
 */
describe('deadlock retry (MySQL)', () => {
  let tdb: TestDb;
  let t: TestApp;
  let u: TestUser;
  let a: number;
  let b: number;
  beforeAll(async () => {
    tdb = await createTestDb({ poolMax: 5 });
    t = await createTestApp({ tdb });
    u = await t.newUser();
    a = (await u.caller.directory.create({ name: 'A' })).id;
    b = (await u.caller.directory.create({ name: 'B' })).id;
  });
  afterAll(async () => {
    await t.close();
    await tdb.destroy();
  });

  const bump = (conn: Queryable, id: number) =>
    conn('directories').where({ id }).update({ use_count: conn.raw('?? + 1', ['use_count']) });

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
