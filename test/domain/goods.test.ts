import { describe, expect, it } from 'vitest';
import { MAX_QUANTITY } from '../../src/goods/stock';
import { useTestApp, type TestUser } from '../helpers/app';
import { countRows, expectInvalid, expectTRPCError, snapshot } from './helpers';

describe('goods router', () => {
  const t = useTestApp();

  async function userWithDirectory(name = '仓库'): Promise<TestUser & { dirId: number }> {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name });
    return { ...u, dirId: d.id };
  }

  describe('scan, stockIn, stockOut', () => {
    it('scans nothing, stocks in a new code named after its first 16 characters, then adds to it', async () => {
      const u = await userWithDirectory();
      const code = '6901234567892-ABCDEFGHIJ';
      expect(await u.caller.goods.scan({ directoryId: u.dirId, code })).toBeNull();

      const first = await u.caller.goods.stockIn({ directoryId: u.dirId, code: `  ${code} ` });
      expect(first.created).toBe(true);
      expect(first.goods).toMatchObject({ directoryId: u.dirId, code, name: code.slice(0, 16), remarks: '', quantity: 1 });
      expect(first.goods.createdAt).toBeInstanceOf(Date);

      const second = await u.caller.goods.stockIn({ directoryId: u.dirId, code });
      expect(second).toEqual({
        created: false,
        goods: { ...first.goods, quantity: 2, lastActiveAt: second.goods.lastActiveAt },
      });
      expect(await u.caller.goods.scan({ directoryId: u.dirId, code })).toEqual(second.goods);

      const dir = await u.caller.directory.get({ id: u.dirId });
      expect(dir).toMatchObject({ useCount: 2, goodsCount: 1, totalQuantity: 2 });
      expect(dir.lastActiveAt.getTime()).toBeGreaterThanOrEqual(dir.createdAt.getTime());

      const log = await u.caller.log.list({ goodsId: first.goods.id });
      expect(log.items.map((e) => [e.type, e.delta, e.quantityAfter, e.goodsName, e.directoryName])).toEqual([
        ['stock.in', 1, 2, code.slice(0, 16), '仓库'],
        ['stock.in', 1, 1, code.slice(0, 16), '仓库'],
      ]);
    });

    it('never splits an emoji when naming goods after the code', async () => {
      const u = await userWithDirectory();
      const code = '🍎🍌🍇🍉🍊🍋🍍🥭🍑🍒🍓🥝🍅🥥🥑🍆🥔🥕';
      const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code });
      expect(goods.name).toBe('🍎🍌🍇🍉🍊🍋🍍🥭🍑🍒🍓🥝🍅🥥🥑🍆');
      expect(Array.from(goods.name)).toHaveLength(16);
      expect(goods.code).toBe(code);
    });

    it('overwrites name and remarks only when given non-empty, adds the given quantity', async () => {
      const u = await userWithDirectory();
      const a = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'X1', name: ' 可乐 ', remarks: ' 冰柜 ', quantity: 24 });
      expect(a.goods).toMatchObject({ name: '可乐', remarks: '冰柜', quantity: 24 });
      const b = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'X1', name: '  ', remarks: '', quantity: 6 });
      expect(b.goods).toMatchObject({ name: '可乐', remarks: '冰柜', quantity: 30 });
      const c = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'X1', name: '可口可乐', remarks: '二号冰柜' });
      expect(c.goods).toMatchObject({ name: '可口可乐', remarks: '二号冰柜', quantity: 31 });
    });

    it('stocks out, down to zero, logging negative deltas; the goods stays at 0', async () => {
      const u = await userWithDirectory();
      const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'Z', quantity: 5 });
      const out = await u.caller.goods.stockOut({ directoryId: u.dirId, code: ' Z ', quantity: 3 });
      expect(out.goods).toMatchObject({ id: goods.id, quantity: 2 });
      expect((await u.caller.goods.stockOut({ directoryId: u.dirId, code: 'Z', quantity: 2 })).goods.quantity).toBe(0);
      expect(await u.caller.goods.get({ id: goods.id })).toMatchObject({ quantity: 0 });
      const log = await u.caller.log.list({ goodsId: goods.id, type: 'stock.out' });
      expect(log.items.map((e) => [e.delta, e.quantityAfter])).toEqual([
        [-2, 0],
        [-3, 2],
      ]);
      expect((await u.caller.directory.get({ id: u.dirId })).useCount).toBe(3);
    });

    it('refuses a stock-out beyond what is on hand with PRECONDITION_FAILED and changes nothing', async () => {
      const u = await userWithDirectory();
      await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'P', quantity: 2 });
      const snap = await snapshot(t.db);
      const err = await expectTRPCError(u.caller.goods.stockOut({ directoryId: u.dirId, code: 'P', quantity: 3 }), 'PRECONDITION_FAILED');
      expect(err.message).toContain('2 on hand');
      expect(await snapshot(t.db)).toEqual(snap);
    });

    it('NOT_FOUND for a stock-out of an unknown code or into an unknown directory', async () => {
      const u = await userWithDirectory();
      const snap = await snapshot(t.db);
      await expectTRPCError(u.caller.goods.stockOut({ directoryId: u.dirId, code: 'never-seen' }), 'NOT_FOUND');
      await expectTRPCError(u.caller.goods.stockOut({ directoryId: 777777, code: 'x' }), 'NOT_FOUND');
      await expectTRPCError(u.caller.goods.stockIn({ directoryId: 777777, code: 'x' }), 'NOT_FOUND');
      await expectTRPCError(u.caller.goods.scan({ directoryId: 777777, code: 'x' }), 'NOT_FOUND');
      expect(await snapshot(t.db)).toEqual(snap);
    });

    it('validates quantity, code, name and remarks', async () => {
      const u = await userWithDirectory();
      const snap = await snapshot(t.db);
      const base = { directoryId: u.dirId, code: 'V' };
      await expectInvalid(u.caller.goods.stockIn({ ...base, quantity: 0 }), 'quantity');
      await expectInvalid(u.caller.goods.stockIn({ ...base, quantity: -1 }), 'quantity');
      await expectInvalid(u.caller.goods.stockIn({ ...base, quantity: 1.5 }), 'quantity');
      await expectInvalid(u.caller.goods.stockIn({ ...base, quantity: 1_000_001 }), 'quantity');
      await expectInvalid(u.caller.goods.stockOut({ ...base, quantity: 0 }), 'quantity');
      await expectInvalid(u.caller.goods.stockIn({ ...base, code: '   ' }), 'code');
      await expectInvalid(u.caller.goods.stockIn({ ...base, code: 'c'.repeat(256) }), 'code');
      await expectInvalid(u.caller.goods.stockIn({ ...base, name: 'n'.repeat(101) }), 'name');
      await expectInvalid(u.caller.goods.stockIn({ ...base, remarks: 'r'.repeat(1001) }), 'remarks');
      await expectInvalid(u.caller.goods.stockIn({ ...base, directoryId: 0 }), 'directoryId');
      await expectInvalid(u.caller.goods.scan({ directoryId: u.dirId, code: '' }), 'code');
      expect(await snapshot(t.db)).toEqual(snap);

      const max = await u.caller.goods.stockIn({ ...base, quantity: 1_000_000 });
      expect(max.goods.quantity).toBe(1_000_000);
    });

    it('refuses a stock-in that would overflow the quantity on hand', async () => {
      const u = await userWithDirectory();
      const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'big' });
      await t
        .db('goods')
        .where({ id: goods.id })
        .update({ quantity: MAX_QUANTITY - 10 });
      const snap = await snapshot(t.db);
      await expectTRPCError(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'big', quantity: 11 }), 'BAD_REQUEST');
      expect(await snapshot(t.db)).toEqual(snap);
      const ok = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'big', quantity: 10 });
      expect(ok.goods.quantity).toBe(MAX_QUANTITY);
      const log = await u.caller.log.list({ goodsId: goods.id, limit: 1 });
      expect(log.items[0]?.quantityAfter).toBe(MAX_QUANTITY);
    });

    it('keeps codes apart per directory and exact in case', async () => {
      const u = await userWithDirectory();
      const other = await u.caller.directory.create({ name: 'other' });
      const a = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'abc' });
      const b = await u.caller.goods.stockIn({ directoryId: other.id, code: 'abc' });
      const c = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'ABC' });
      expect(new Set([a.goods.id, b.goods.id, c.goods.id]).size).toBe(3);
      expect([a.created, b.created, c.created]).toEqual([true, true, true]);
      expect(await u.caller.goods.scan({ directoryId: u.dirId, code: 'Abc' })).toBeNull();
    });
  });

  describe('get, update, delete', () => {
    it('gets, updates (logging goods.update) and deletes (logging goods.delete)', async () => {
      const u = await userWithDirectory();
      const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'G1', quantity: 4 });
      expect(await u.caller.goods.get({ id: goods.id })).toEqual(goods);

      const updated = await u.caller.goods.update({ id: goods.id, name: ' 矿泉水 ', remarks: ' 550ml ', code: ' G1-new ' });
      expect(updated).toMatchObject({ id: goods.id, name: '矿泉水', remarks: '550ml', code: 'G1-new', quantity: 4 });
      expect(await u.caller.goods.get({ id: goods.id })).toEqual(updated);
      expect(await u.caller.goods.scan({ directoryId: u.dirId, code: 'G1' })).toBeNull();
      expect((await u.caller.goods.update({ id: goods.id, remarks: '' })).remarks).toBe('');

      expect(await u.caller.goods.delete({ id: goods.id })).toEqual({ ok: true });
      await expectTRPCError(u.caller.goods.get({ id: goods.id }), 'NOT_FOUND');
      await expectTRPCError(u.caller.goods.delete({ id: goods.id }), 'NOT_FOUND');
      await expectTRPCError(u.caller.goods.update({ id: goods.id, name: 'x' }), 'NOT_FOUND');
      expect(await u.caller.goods.scan({ directoryId: u.dirId, code: 'G1-new' })).toBeNull();
      expect((await u.caller.goods.list({ directoryId: u.dirId })).items).toEqual([]);

      const log = await u.caller.log.list({ goodsId: goods.id });
      expect(log.items.map((e) => [e.type, e.goodsName])).toEqual([
        ['goods.delete', '矿泉水'],
        ['goods.update', '矿泉水'],
        ['goods.update', '矿泉水'],
        ['stock.in', 'G1'],
      ]);

      // The code is free again: a new stock-in creates a new goods.
      const again = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'G1-new' });
      expect(again.created).toBe(true);
      expect(again.goods.id).not.toBe(goods.id);
      expect(again.goods.quantity).toBe(1);
    });

    it('refuses a code another live goods of the directory has, empty names, and empty updates', async () => {
      const u = await userWithDirectory();
      const a = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'A' });
      await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'B' });
      const snap = await snapshot(t.db);
      await expectTRPCError(u.caller.goods.update({ id: a.goods.id, code: 'B' }), 'CONFLICT');
      await expectTRPCError(u.caller.goods.update({ id: a.goods.id, code: ' B ' }), 'CONFLICT');
      await expectInvalid(u.caller.goods.update({ id: a.goods.id, name: '  ' }), 'name');
      await expectInvalid(u.caller.goods.update({ id: a.goods.id, code: '' }), 'code');
      await expectInvalid(u.caller.goods.update({ id: a.goods.id, remarks: 'r'.repeat(1001) }), 'remarks');
      await expectTRPCError(u.caller.goods.update({ id: a.goods.id }), 'BAD_REQUEST');
      await expectTRPCError(u.caller.goods.get({ id: 123456 }), 'NOT_FOUND');
      await expectInvalid(u.caller.goods.get({ id: -1 }), 'id');
      expect(await snapshot(t.db)).toEqual(snap);
      // Its own code is fine; a code that only a deleted goods had is fine.
      expect((await u.caller.goods.update({ id: a.goods.id, code: 'A' })).code).toBe('A');
    });
  });

  describe('list', () => {
    it('pages by id, newest first, with an opaque cursor', async () => {
      const u = await userWithDirectory();
      const ids: number[] = [];
      for (let i = 0; i < 45; i++) ids.push((await u.caller.goods.stockIn({ directoryId: u.dirId, code: `code-${i}` })).goods.id);
      const p1 = await u.caller.goods.list({ directoryId: u.dirId });
      expect(p1.items).toHaveLength(20);
      expect(p1.items.map((g) => g.id)).toEqual([...ids].reverse().slice(0, 20));
      expect(p1.nextCursor).toEqual(expect.any(String));
      expect(p1.nextCursor).not.toContain(String(p1.items[19]!.id));
      const p2 = await u.caller.goods.list({ directoryId: u.dirId, cursor: p1.nextCursor!, limit: 20 });
      const p3 = await u.caller.goods.list({ directoryId: u.dirId, cursor: p2.nextCursor!, limit: 20 });
      expect(p3.items).toHaveLength(5);
      expect(p3.nextCursor).toBeNull();
      expect([...p1.items, ...p2.items, ...p3.items].map((g) => g.id)).toEqual([...ids].reverse());

      const exact = await u.caller.goods.list({ directoryId: u.dirId, limit: 45 });
      expect(exact.items).toHaveLength(45);
      expect(exact.nextCursor).toBeNull();
      expect((await u.caller.goods.list({ directoryId: u.dirId, limit: 1 })).items).toHaveLength(1);
      expect((await u.caller.goods.list({ directoryId: u.dirId, cursor: null, limit: 100 })).items).toHaveLength(45);
    });

    it('refuses bad limits and cursors it did not hand out', async () => {
      const u = await userWithDirectory();
      await expectInvalid(u.caller.goods.list({ directoryId: u.dirId, limit: 0 }), 'limit');
      await expectInvalid(u.caller.goods.list({ directoryId: u.dirId, limit: 101 }), 'limit');
      for (const cursor of ['garbage!', 'abc', Buffer.from('id:0').toString('base64url'), Buffer.from('id:-5').toString('base64url'), '']) {
        if (cursor === '') continue; // an empty cursor means "first page"
        await expectTRPCError(u.caller.goods.list({ directoryId: u.dirId, cursor }), 'BAD_REQUEST');
      }
      expect((await u.caller.goods.list({ directoryId: u.dirId, cursor: '' })).items).toEqual([]);
    });

    it('searches name or code, case-insensitively, with %, _, \\ and ! taken literally', async () => {
      const u = await userWithDirectory();
      const mk = async (code: string, name?: string) =>
        (await u.caller.goods.stockIn({ directoryId: u.dirId, code, ...(name ? { name } : {}) })).goods.id;
      const cola = await mk('690001', '可口可乐 Coke');
      const pct = await mk('100%-juice', '果汁');
      const pctName = await mk('A2', '折扣 50% off');
      const under = await mk('a_b', '下划线');
      const plainAB = await mk('axb', 'plain');
      const slash = await mk('C:\\path', '反斜杠');
      const bang = await mk('wow!', 'bang');
      const apple = await mk('fruit-1', '🍎 苹果');
      const banana = await mk('fruit-2', '🍌 香蕉');

      const search = async (s: string) =>
        (await u.caller.goods.list({ directoryId: u.dirId, search: s, limit: 100 })).items.map((g) => g.id).sort((a, b) => a - b);
      const sorted = (...ids: number[]) => ids.sort((a, b) => a - b);

      expect(await search('可乐')).toEqual([cola]);
      expect(await search('coke')).toEqual([cola]);
      expect(await search('COKE')).toEqual([cola]);
      expect(await search('9000')).toEqual([cola]);
      expect(await search('%')).toEqual(sorted(pct, pctName));
      expect(await search('0%')).toEqual(sorted(pct, pctName));
      expect(await search('_')).toEqual([under]);
      expect(await search('a_b')).toEqual([under]);
      expect(await search('\\')).toEqual([slash]);
      expect(await search('!')).toEqual([bang]);
      expect(await search('🍎')).toEqual([apple]);
      expect(await search('香蕉')).toEqual([banana]);
      expect(await search('fruit')).toEqual(sorted(apple, banana));
      expect(await search('nothing-like-this')).toEqual([]);
      // Blank search means no filter.
      expect(await search('   ')).toHaveLength(9);
      expect(plainAB).toBeGreaterThan(0);
    });
  });

  describe('unicode', () => {
    it('round-trips Chinese, emoji and 255-character codes exactly', async () => {
      const u = await userWithDirectory('📦 仓库 测试');
      const longAscii = 'Q'.repeat(254) + '9';
      const longEmoji = '😀'.repeat(200) + '中'.repeat(54) + 'x';
      const zwj = '👨‍👩‍👧‍👦 家庭装 ';
      const cases = [
        { code: longAscii, name: '长条码', remarks: 'ASCII 255' },
        { code: longEmoji, name: '🥤'.repeat(100), remarks: '备注'.repeat(500) },
        { code: 'https://example.com/p?q=测试&x=1#frag', name: zwj.trim(), remarks: 'ｆｕｌｌ－ｗｉｄｔｈ　空格' },
      ];
      expect(Array.from(longEmoji)).toHaveLength(255);
      for (const c of cases) {
        const { goods } = await u.caller.goods.stockIn({ directoryId: u.dirId, ...c });
        expect(goods).toMatchObject(c);
        expect(await u.caller.goods.get({ id: goods.id })).toMatchObject(c);
        expect(await u.caller.goods.scan({ directoryId: u.dirId, code: c.code })).toMatchObject(c);
        const row = await t.db('goods').where({ id: goods.id }).first();
        expect([row.code, row.name, row.remarks]).toEqual([c.code, c.name, c.remarks]);
        const log = await u.caller.log.list({ goodsId: goods.id });
        expect(log.items[0]).toMatchObject({ goodsName: c.name, directoryName: '📦 仓库 测试' });
      }
      await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: '😀'.repeat(256) }), 'code');
      expect(await countRows(t.db, 'goods', { directory_id: u.dirId })).toBe(3);
      const listed = await u.caller.goods.list({ directoryId: u.dirId });
      expect(listed.items.map((g) => g.code).sort()).toEqual(cases.map((c) => c.code).sort());
    });
  });
});
