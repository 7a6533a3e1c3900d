import { beforeAll, describe, expect, it } from 'vitest';
import { preparedSelect, preparedWrite } from '../../src/db/prepared';
import { inTransaction } from '../../src/db/tx';
import { GOODS_COLUMNS } from '../../src/goods/goods';
import { useTestApp, type TestUser } from '../helpers/app';

/*
 * preparedSelect (src/db/prepared.ts) compiles a builder query once per database kind and binds each
 * call's values: it must answer exactly what the same builder query answers, for any values, and
 * refuse a query that would silently ignore a parameter.
 */

const t = useTestApp();
let u: TestUser;
let dir: number;
const codes = ['6901', "o'brien", '%_\\', '扫码 商品', '👩‍👩‍👧‍👦', 'x'.repeat(255)];

beforeAll(async () => {
  u = await t.newUser();
  dir = (await u.caller.directory.list())[0]!.id;
  for (const code of codes) await u.caller.goods.stockIn({ directoryId: dir, code, quantity: 2 });
});

describe('preparedSelect', () => {
  it('answers what the builder answers, for every value, and builds the query once', async () => {
    let builds = 0;
    const byCode = preparedSelect<{ userId: number; directoryId: number; code: string }, Record<string, unknown>>((q, p) => {
      builds++;
      return q('goods')
        .select(GOODS_COLUMNS)
        .where({ user_id: p.userId, directory_id: p.directoryId, code: p.code, live: 1 })
        .orderBy('id');
    });
    for (const code of [...codes, 'missing', '']) {
      const expected = await t
        .db('goods')
        .select(GOODS_COLUMNS)
        .where({ user_id: u.userId, directory_id: dir, code, live: 1 })
        .orderBy('id');
      expect(await byCode(t.db, { userId: u.userId, directoryId: dir, code })).toEqual(expected);
    }
    expect(builds).toBe(1);
  });

  it('binds a parameter used twice, and keeps the values the query fixes', async () => {
    const twice = preparedSelect<{ userId: number }, { n: number | string }>((q, p) =>
      q('goods').count({ n: '*' }).where({ user_id: p.userId, live: 1 }).orWhere({ user_id: p.userId, quantity: 2 }),
    );
    const [row] = await twice(t.db, { userId: u.userId });
    expect(Number(row!.n)).toBe(codes.length);
    const [none] = await twice(t.db, { userId: 2_000_000_000 });
    expect(Number(none!.n)).toBe(0);
  });

  it('refuses a query that reads a parameter without binding it', async () => {
    const careless = preparedSelect<{ userId: number; code: string }, unknown>((q, p) => {
      void p.code;
      return q('goods').select('id').where({ user_id: p.userId });
    });
    await expect(careless(t.db, { userId: u.userId, code: 'x' })).rejects.toThrow(/does not bind code/);
  });

  it("runs on a transaction's own connection: it sees what the transaction wrote and nothing else does", async () => {
    const names = preparedSelect<{ userId: number; code: string }, { name: string }>((q, p) =>
      q('goods').select('name').where({ user_id: p.userId, code: p.code }),
    );
    const seen = await inTransaction(t.db, async (tx) => {
      await tx('goods').where({ user_id: u.userId, directory_id: dir, code: '6901' }).update({ name: 'inside' });
      const [inside] = await names(tx, { userId: u.userId, code: '6901' });
      // SQLite has one connection: the pool would wait for this transaction, so only MySQL can look.
      const [outside] = t.kind === 'mysql' ? await names(t.db, { userId: u.userId, code: '6901' }) : [undefined];
      return { inside: inside?.name, outside: outside?.name };
    });
    expect(seen.inside).toBe('inside');
    if (t.kind === 'mysql') expect(seen.outside).not.toBe('inside');
    const [after] = await names(t.db, { userId: u.userId, code: '6901' });
    expect(after?.name).toBe('inside');
  });

  it('passes a database error through and gives the connection back', async () => {
    const broken = preparedSelect<{ userId: number }, unknown>((q, p) => q('no_such_table').select('id').where({ id: p.userId }));
    for (let i = 0; i < 15; i++) await expect(broken(t.db, { userId: 1 })).rejects.toThrow(/no_such_table/);
    // The pool would be exhausted (it holds 10 at most) had a failed call kept its connection.
    const [row] = await preparedSelect<{ userId: number }, { id: number }>((q, p) => q('users').select('id').where({ id: p.userId }))(
      t.db,
      {
        userId: u.userId,
      },
    );
    expect(row?.id).toBe(u.userId);
  });

  it('writes: answers the rows an UPDATE changed and the id an INSERT made, as knex would', async () => {
    const rename = preparedWrite<{ userId: number; code: string; name: string; now: Date }>((q, p) =>
      q('goods').where({ user_id: p.userId, code: p.code }).update({ name: p.name, last_active_at: p.now }),
    );
    const when = new Date('2026-01-02T03:04:05.000Z');
    expect(await rename(t.db, { userId: u.userId, code: '6901', name: '改名', now: when })).toMatchObject({ affectedRows: 1 });
    expect(await rename(t.db, { userId: u.userId, code: 'missing', name: 'x', now: when })).toMatchObject({ affectedRows: 0 });
    const row = await t.db('goods').where({ user_id: u.userId, code: '6901' }).first();
    expect(row.name).toBe('改名');
    // A Date is stored as knex stores it on each database, so knex reads back the same instant.
    const viaKnex = await t.db('goods').where({ user_id: u.userId, code: "o'brien" }).update({ last_active_at: when });
    expect(viaKnex).toBe(1);
    const both = await t.db('goods').whereIn('code', ['6901', "o'brien"]).where({ user_id: u.userId }).select('last_active_at');
    expect(new Set(both.map((r: { last_active_at: unknown }) => String(r.last_active_at))).size).toBe(1);

    const addDirectory = preparedWrite<{ userId: number; name: string; now: Date }>((q, p) =>
      q('directories').insert({ user_id: p.userId, name: p.name, created_at: p.now, last_active_at: p.now }),
    );
    const { insertId } = await addDirectory(t.db, { userId: u.userId, name: '新仓库', now: when });
    const made = await t.db('directories').where({ id: insertId }).first();
    expect(made).toMatchObject({ user_id: u.userId, name: '新仓库' });
  });

  it("emits knex's query events, so what watches queries sees prepared ones too", async () => {
    const seen: string[] = [];
    const errors: string[] = [];
    const onQuery = (q: { sql: string }) => seen.push(q.sql);
    const onError = (_err: unknown, q: { sql: string }) => errors.push(q.sql);
    t.db.on('query', onQuery).on('query-error', onError);
    try {
      await preparedSelect<{ id: number }, unknown>((q, p) => q('users').select('id').where({ id: p.id }))(t.db, { id: u.userId });
      await expect(preparedSelect<{ id: number }, unknown>((q, p) => q('nowhere').where({ id: p.id }))(t.db, { id: 1 })).rejects.toThrow();
    } finally {
      t.db.off('query', onQuery).off('query-error', onError);
    }
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatch(/from [`"]users[`"]/);
    expect(errors).toEqual([seen[1]]);
  });
});
