import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type TestUser } from '../helpers/app';
import { client, trpcCodeOf } from './support/http';

/*
 * SQL injection and LIKE wildcards in every free-text field, through a stock tRPC client over
 * HTTP: each string is stored and read back exactly (after the documented trim), a search for a
 * wildcard finds only the rows that literally contain it, and every table is still there.
 */

const HOSTILE = [
  "'; DROP TABLE goods; --",
  "' OR '1'='1",
  '" OR ""="',
  "\\'; DROP TABLE users; --",
  '1; DELETE FROM logs',
  "' UNION SELECT token_hash FROM sessions --",
  '`users`',
  '%',
  '_',
  '\\',
  "'",
  '"',
  '`',
  '!',
  '%_\\!',
  'a%b_c\\d!e',
  '\\%',
  '\\_',
  '%%',
  '__',
  '!%',
  '--',
  '/* comment */',
  "名字'%_",
  "😀'%`",
  '\u0000nul',
  '$1 ?? ? :name',
];

describe('SQL injection and LIKE wildcards round-trip as literal text', () => {
  const t = useTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
  let base: string;
  let user: TestUser;
  let api: ReturnType<typeof client>;
  let tableCounts: () => Promise<Record<string, number>>;

  beforeAll(async () => {
    base = await t.listen();
    user = await t.newUser();
    api = client(base, user.token);
    tableCounts = async () => {
      const out: Record<string, number> = {};
      for (const table of ['users', 'sessions', 'directories', 'goods', 'logs', 'request_results']) {
        out[table] = Number((await t.db(table).count<{ n: number }[]>({ n: '*' }))[0]?.n);
      }
      return out;
    };
  });

  it('directory names: create, rename, get and list keep every string exactly', async () => {
    for (const s of HOSTILE) {
      const created = await api.directory.create.mutate({ name: `dir ${s}` });
      expect(created.name).toBe(`dir ${s}`);
      expect((await api.directory.get.query({ id: created.id })).name).toBe(`dir ${s}`);
      const renamed = await api.directory.rename.mutate({ id: created.id, name: `${s} renamed` });
      expect(renamed.name).toBe(`${s} renamed`);
    }
    const names = (await api.directory.list.query()).map((d) => d.name);
    for (const s of HOSTILE) expect(names).toContain(`${s} renamed`);
    // A name that differs only by a wildcard is a different name, not a conflict.
    await api.directory.create.mutate({ name: 'x%y' });
    await api.directory.create.mutate({ name: 'x_y' });
    await api.directory.create.mutate({ name: 'xzy' });
  });

  it('goods code, name and remarks: stock-in, scan, get and update keep every string exactly', async () => {
    const dir = await api.directory.create.mutate({ name: 'goods-roundtrip' });
    for (const s of HOSTILE) {
      const { goods, created } = await api.goods.stockIn.mutate({ directoryId: dir.id, code: `c${s}`, name: `n${s}`, remarks: `r${s}` });
      expect(created).toBe(true);
      expect(goods).toMatchObject({ code: `c${s}`, name: `n${s}`, remarks: `r${s}`, quantity: 1 });
      const scanned = await api.goods.scan.query({ directoryId: dir.id, code: `c${s}` });
      expect(scanned?.id).toBe(goods.id);
      const updated = await api.goods.update.mutate({ id: goods.id, name: `${s}!n`, remarks: `${s}!r`, code: `${s}!c` });
      expect(updated).toMatchObject({ code: `${s}!c`, name: `${s}!n`, remarks: `${s}!r` });
      expect(await api.goods.get.query({ id: goods.id })).toMatchObject({ code: `${s}!c`, name: `${s}!n`, remarks: `${s}!r` });
      // The old code is gone: no wildcard match finds it.
      expect(await api.goods.scan.query({ directoryId: dir.id, code: `c${s}` })).toBeNull();
    }
    // A code made of wildcards matches only itself.
    expect(await api.goods.scan.query({ directoryId: dir.id, code: '%' })).toBeNull();
    expect(await api.goods.scan.query({ directoryId: dir.id, code: '_' })).toBeNull();
  });

  it('search: every wildcard and quote is a literal substring, nothing more', async () => {
    const dir = await api.directory.create.mutate({ name: 'search' });
    const codes = [
      'plain',
      'under_score',
      'per%cent',
      'back\\slash',
      "quo'te",
      'dq"uote',
      'back`tick',
      'bang!mark',
      'both%_',
      'dash--dash',
    ];
    for (const code of codes) await api.goods.stockIn.mutate({ directoryId: dir.id, code, name: `name of ${code}` });
    for (const s of HOSTILE.filter((h) => !h.includes('\u0000'))) {
      await api.goods.stockIn.mutate({ directoryId: dir.id, code: `hostile ${s}`, name: s });
    }
    const all = (await api.goods.list.query({ directoryId: dir.id, limit: 100 })).items;
    for (const search of ['%', '_', '\\', "'", '"', '`', '!', '%_', '--', "'; DROP TABLE goods; --", '\\%', '!%', "' OR '1'='1"]) {
      const page = await api.goods.list.query({ directoryId: dir.id, search, limit: 100 });
      const expected = all
        .filter((g) => g.name.toLowerCase().includes(search.toLowerCase()) || g.code.toLowerCase().includes(search.toLowerCase()))
        .map((g) => g.id)
        .sort();
      expect(expected.length, `search ${search}`).toBeGreaterThan(0);
      expect(expected.length, `search ${search}`).toBeLessThan(all.length);
      expect(page.items.map((g) => g.id).sort(), `search ${JSON.stringify(search)}`).toEqual(expected);
    }
  });

  it('profile fields keep every string exactly (after trimming)', async () => {
    for (const s of HOSTILE) {
      const me = await api.auth.updateProfile.mutate({ nickname: `n${s}`, city: `c${s}`, province: `p${s}`, country: `k${s}` });
      expect(me).toMatchObject({ nickname: `n${s}`, city: `c${s}`, province: `p${s}`, country: `k${s}` });
      expect(await api.auth.me.query()).toMatchObject({ nickname: `n${s}`, city: `c${s}` });
    }
    const avatarUrl = "https://example.com/a'%_\\`;--!.png";
    expect((await api.auth.updateProfile.mutate({ avatarUrl })).avatarUrl).toBe(avatarUrl);
  });

  it('requestIds made of SQL and wildcards are exact keys: a replay never matches another id', async () => {
    const dir = await api.directory.create.mutate({ name: 'requestIds' });
    for (const s of HOSTILE) {
      await api.goods.stockIn.mutate({ directoryId: dir.id, code: 'RID', requestId: `rid${s}` });
      // The same requestId again: replayed, not applied.
      await api.goods.stockIn.mutate({ directoryId: dir.id, code: 'RID', requestId: `rid${s}` });
    }
    expect((await api.goods.scan.query({ directoryId: dir.id, code: 'RID' }))?.quantity).toBe(HOSTILE.length);
    // '%' and '_' as a whole requestId are not patterns matching the others.
    await api.goods.stockIn.mutate({ directoryId: dir.id, code: 'RID', requestId: '%' + '_'.repeat(3) });
    expect((await api.goods.scan.query({ directoryId: dir.id, code: 'RID' }))?.quantity).toBe(HOSTILE.length + 1);
  });

  it('login codes (development login: openid dev-<code>) are exact keys, never patterns', async () => {
    const anonymous = client(base);
    const ids = new Map<string, number>();
    for (const code of ["'OR'1'='1", '%', '_', '%_', "';DROP/**/TABLE/**/users;--", '\\']) {
      const first = await anonymous.auth.login.mutate({ code });
      expect(first.isNew, code).toBe(true);
      const again = await anonymous.auth.login.mutate({ code });
      expect(again.isNew, code).toBe(false);
      expect(again.user.id).toBe(first.user.id);
      ids.set(code, first.user.id);
    }
    expect(new Set(ids.values()).size).toBe(ids.size);
    const openids = (await t
      .db('users')
      .whereIn('id', [...ids.values()])
      .pluck('openid')) as string[];
    expect(openids.sort()).toEqual([...ids.keys()].map((c) => `dev-${c}`).sort());
  });

  it('hostile cursors are refused cleanly, and every table is still there', async () => {
    const dir = (await api.directory.list.query())[0]!;
    for (const cursor of ["' OR 1=1 --", '%', '_', 'aWQ6MSBPUiAxPTE', 'aWQ6MTsgRFJPUCBUQUJMRSBnb29kcw']) {
      await expect(api.goods.list.query({ directoryId: dir.id, cursor })).rejects.toSatisfy((e) => trpcCodeOf(e) === 'BAD_REQUEST');
      await expect(api.log.list.query({ cursor })).rejects.toSatisfy((e) => trpcCodeOf(e) === 'BAD_REQUEST');
    }
    const counts = await tableCounts();
    for (const [table, n] of Object.entries(counts)) expect(n, table).toBeGreaterThan(0);
  });
});
