import { describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';
import { countRows, expectInvalid, expectTRPCError, snapshot } from './helpers';

describe('directory router', () => {
  const t = useTestApp();

  it('lists the default directory of a new user with zero totals', async () => {
    const u = await t.newUser();
    const list = await u.caller.directory.list({});
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: '默认', useCount: 0, goodsCount: 0, totalQuantity: 0 });
    expect(list[0]!.createdAt).toBeInstanceOf(Date);
    expect(list[0]!.lastActiveAt).toBeInstanceOf(Date);
    // The input is optional: a bare call works too.
    expect(await u.caller.directory.list()).toEqual(list);
  });

  it('creates a directory with a trimmed name, logs it, and refuses a duplicate live name', async () => {
    const u = await t.newUser();
    const before = t.now().getTime();
    const d = await u.caller.directory.create({ name: '  仓库 A  ' });
    expect(d).toMatchObject({ name: '仓库 A', useCount: 0, goodsCount: 0, totalQuantity: 0 });
    expect(d.id).toBeGreaterThan(0);
    expect(d.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(await u.caller.directory.get({ id: d.id })).toEqual(d);

    const log = await u.caller.log.list({ directoryId: d.id });
    expect(log.items).toHaveLength(1);
    expect(log.items[0]).toMatchObject({ type: 'directory.create', directoryId: d.id, directoryName: '仓库 A', goodsId: null });

    const snap = await snapshot(t.db);
    await expectTRPCError(u.caller.directory.create({ name: '仓库 A' }), 'CONFLICT');
    await expectTRPCError(u.caller.directory.create({ name: ' 仓库 A\t' }), 'CONFLICT');
    expect(await snapshot(t.db)).toEqual(snap);

    // Names are exact: case and different users do not collide.
    await u.caller.directory.create({ name: 'abc' });
    await u.caller.directory.create({ name: 'ABC' });
    const other = await t.newUser();
    await other.caller.directory.create({ name: '仓库 A' });
  });

  it('validates names: empty, whitespace-only, too long (counted in characters)', async () => {
    const u = await t.newUser();
    const snap = await snapshot(t.db);
    await expectInvalid(u.caller.directory.create({ name: '' }), 'name');
    await expectInvalid(u.caller.directory.create({ name: '   \u3000 ' }), 'name');
    await expectInvalid(u.caller.directory.create({ name: 'x'.repeat(101) }), 'name');
    await expectInvalid(u.caller.directory.create({ name: '\ud83d' }), 'name');
    // @ts-expect-error a number is not a name
    await expectInvalid(u.caller.directory.create({ name: 5 }), 'name');
    expect(await snapshot(t.db)).toEqual(snap);

    // 100 emoji are 200 UTF-16 units but 100 characters: accepted, and stored exactly.
    const emoji = '📦'.repeat(100);
    const d = await u.caller.directory.create({ name: emoji });
    expect((await u.caller.directory.get({ id: d.id })).name).toBe(emoji);
    const maxAscii = await u.caller.directory.create({ name: 'y'.repeat(100) });
    expect(maxAscii.name).toHaveLength(100);
  });

  it('get: NOT_FOUND for unknown ids, BAD_REQUEST for ids that are not positive integers', async () => {
    const u = await t.newUser();
    await expectTRPCError(u.caller.directory.get({ id: 987654 }), 'NOT_FOUND');
    await expectInvalid(u.caller.directory.get({ id: 0 }), 'id');
    await expectInvalid(u.caller.directory.get({ id: -3 }), 'id');
    await expectInvalid(u.caller.directory.get({ id: 1.5 }), 'id');
  });

  it('renames, logs the rename, and refuses a name another live directory has', async () => {
    const u = await t.newUser();
    const a = await u.caller.directory.create({ name: 'A' });
    const b = await u.caller.directory.create({ name: 'B' });
    const renamed = await u.caller.directory.rename({ id: a.id, name: ' 前台 ' });
    expect(renamed).toMatchObject({ id: a.id, name: '前台', createdAt: a.createdAt });
    expect((await u.caller.directory.get({ id: a.id })).name).toBe('前台');
    const log = await u.caller.log.list({ directoryId: a.id, type: 'directory.rename' });
    expect(log.items.map((e) => e.directoryName)).toEqual(['前台']);

    const snap = await snapshot(t.db);
    await expectTRPCError(u.caller.directory.rename({ id: b.id, name: '前台' }), 'CONFLICT');
    await expectTRPCError(u.caller.directory.rename({ id: 99999, name: 'C' }), 'NOT_FOUND');
    await expectInvalid(u.caller.directory.rename({ id: b.id, name: ' ' }), 'name');
    expect(await snapshot(t.db)).toEqual(snap);

    // Renaming to its own name is not a conflict.
    expect((await u.caller.directory.rename({ id: b.id, name: 'B' })).name).toBe('B');
  });

  it('delete hides the directory and its goods everywhere but keeps the history', async () => {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name: '临时' });
    const { goods } = await u.caller.goods.stockIn({ directoryId: d.id, code: '6901234567892', quantity: 3 });
    expect(await u.caller.directory.delete({ id: d.id })).toEqual({ ok: true });

    expect((await u.caller.directory.list({})).map((x) => x.id)).not.toContain(d.id);
    await expectTRPCError(u.caller.directory.get({ id: d.id }), 'NOT_FOUND');
    await expectTRPCError(u.caller.directory.rename({ id: d.id, name: 'x' }), 'NOT_FOUND');
    await expectTRPCError(u.caller.directory.delete({ id: d.id }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.get({ id: goods.id }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.scan({ directoryId: d.id, code: '6901234567892' }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.list({ directoryId: d.id }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.stockIn({ directoryId: d.id, code: '6901234567892' }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.stockOut({ directoryId: d.id, code: '6901234567892' }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.update({ id: goods.id, name: 'x' }), 'NOT_FOUND');
    await expectTRPCError(u.caller.goods.delete({ id: goods.id }), 'NOT_FOUND');

    const history = await u.caller.log.list({ directoryId: d.id });
    expect(history.items.map((e) => e.type)).toEqual(['directory.delete', 'stock.in', 'directory.create']);
    expect(history.items[0]).toMatchObject({ directoryName: '临时', directoryId: d.id });

    // Soft delete: rows stay, marked deleted; the name is free again.
    const row = await t.db('directories').where({ id: d.id }).first();
    expect(row.live).toBeNull();
    expect(row.deleted_at).not.toBeNull();
    expect((await t.db('goods').where({ id: goods.id }).first()).live).toBeNull();
    const again = await u.caller.directory.create({ name: '临时' });
    expect(again.id).not.toBe(d.id);
    expect(again.goodsCount).toBe(0);
  });

  it('lists most used first, then most recently active, with goods totals', async () => {
    const u = await t.newUser();
    const quiet = await u.caller.directory.create({ name: 'quiet' });
    const busy = await u.caller.directory.create({ name: 'busy' });
    const recent = await u.caller.directory.create({ name: 'recent' });

    await u.caller.goods.stockIn({ directoryId: busy.id, code: 'a', quantity: 5 });
    await u.caller.goods.stockIn({ directoryId: busy.id, code: 'b', quantity: 7 });
    t.advanceClock(1000);
    await u.caller.goods.stockIn({ directoryId: quiet.id, code: 'q', quantity: 2 });
    t.advanceClock(1000);
    await u.caller.goods.stockIn({ directoryId: recent.id, code: 'r', quantity: 1 });
    // A deleted goods no longer counts.
    const gone = await u.caller.goods.stockIn({ directoryId: busy.id, code: 'gone', quantity: 100 });
    await u.caller.goods.delete({ id: gone.goods.id });

    const list = await u.caller.directory.list({});
    expect(list.map((d) => [d.name, d.useCount, d.goodsCount, d.totalQuantity])).toEqual([
      ['busy', 3, 2, 12],
      ['recent', 1, 1, 1],
      ['quiet', 1, 1, 2],
      ['默认', 0, 0, 0],
    ]);
    expect(await u.caller.directory.get({ id: busy.id })).toEqual(list[0]);
  });

  it('computes every total with one query over goods, however many directories there are', async () => {
    const u = await t.newUser();
    for (let i = 0; i < 12; i++) {
      const d = await u.caller.directory.create({ name: `d${i}` });
      await u.caller.goods.stockIn({ directoryId: d.id, code: `c${i}`, quantity: i + 1 });
    }
    const queries: string[] = [];
    const onQuery = (q: { sql: string }) => queries.push(q.sql);
    t.db.on('query', onQuery);
    try {
      const list = await u.caller.directory.list({});
      expect(list).toHaveLength(13);
      expect(list.reduce((s, d) => s + d.totalQuantity, 0)).toBe(78);
    } finally {
      t.db.off('query', onQuery);
    }
    expect(queries.filter((sql) => /\bgoods\b/.test(sql))).toHaveLength(1);
    expect(queries.filter((sql) => /\bdirectories\b/.test(sql))).toHaveLength(1);
  });

  it('refuses every procedure without a session', async () => {
    const anon = t.caller();
    await expectTRPCError(anon.directory.list({}), 'UNAUTHORIZED');
    await expectTRPCError(anon.directory.create({ name: 'x' }), 'UNAUTHORIZED');
    await expectTRPCError(anon.goods.stockIn({ directoryId: 1, code: 'x' }), 'UNAUTHORIZED');
    await expectTRPCError(anon.log.list({}), 'UNAUTHORIZED');
    expect(await countRows(t.db, 'directories', { name: 'x' })).toBe(0);
  });
});
