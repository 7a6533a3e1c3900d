import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createSession } from '../../src/auth/sessions';
import { dbKind, type Db, toDate } from '../../src/db/knex';
import { MIGRATIONS_DIR, migrateLatest, migrationConfig } from '../../src/db/migrate';
import { type Caller, useTestApp } from '../helpers/app';
import { createTestDb, tableNames, type TestDb } from '../helpers/db';

/*
 * The v1 → v2 data migration (migrations/20261129000000_team_sharing.ts) on a database that holds
 * v1 data: migrated up to the v1 migrations only, seeded with plain inserts as the v1 app wrote
 * them, then migrated to the latest and used through the app; then rolled back (v1 schema and data
 * as they were) and migrated again.
 *
 * The steps build on each other, so the tests of this file run in order.
 */

const V1_MIGRATIONS = ['20261124000000_initial_schema.ts', '20261124010000_directory_index_without_use_count.ts'];
const V2_MIGRATION = '20261129000000_team_sharing.ts';
/** Whatever came after the sharing migration: applied by "latest", rolled back before it. */
const LATER_MIGRATIONS = readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .sort()
  .filter((f) => f > V2_MIGRATION);
const ALL_MIGRATIONS = [...V1_MIGRATIONS, V2_MIGRATION, ...LATER_MIGRATIONS];
const V1_TABLES = ['users', 'directories', 'goods', 'logs', 'request_results'] as const;

/** Column types, indexes and foreign keys of the v1 tables (and sessions), in a comparable form. */
async function schemaOf(db: Db) {
  const out: Record<string, unknown> = {};
  for (const table of [...V1_TABLES, 'sessions']) {
    const columns = await db(table).columnInfo();
    if (dbKind(db) === 'mysql') {
      const [indexes] = (await db.raw(
        'SELECT index_name AS name, non_unique, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? GROUP BY index_name, non_unique ORDER BY index_name',
        [table],
      )) as [unknown[]];
      const [fks] = (await db.raw(
        'SELECT column_name, referenced_table_name, referenced_column_name FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND table_name = ? AND referenced_table_name IS NOT NULL ORDER BY column_name',
        [table],
      )) as [unknown[]];
      out[table] = { columns, indexes, fks };
    } else {
      const indexList = (await db.raw(`PRAGMA index_list(${table})`)) as { name: string; unique: number }[];
      const indexes = [];
      for (const i of indexList.sort((a, b) => a.name.localeCompare(b.name))) {
        const cols = (await db.raw(`PRAGMA index_info(${i.name})`)) as { name: string }[];
        indexes.push({ name: i.name, unique: i.unique, cols: cols.map((c) => c.name) });
      }
      const fks = ((await db.raw(`PRAGMA foreign_key_list(${table})`)) as { from: string; table: string; to: string; on_delete: string }[])
        .map((f) => ({ from: f.from, table: f.table, to: f.to, onDelete: f.on_delete }))
        .sort((a, b) => a.from.localeCompare(b.from));
      out[table] = { columns, indexes, fks };
    }
  }
  return out;
}

async function rowsOf(db: Db) {
  const out: Record<string, unknown[]> = {};
  for (const table of V1_TABLES) out[table] = await db(table).select('*').orderBy('id');
  return out;
}

/** The rows as they are now, each cut down to the columns its v1 row had (later migrations add some). */
function v1Columns(now: Record<string, unknown[]>, v1: Record<string, unknown[]>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const table of V1_TABLES) {
    const columns = Object.keys((v1[table]![0] ?? {}) as object);
    out[table] = now[table]!.map((row) => Object.fromEntries(columns.map((c) => [c, (row as Record<string, unknown>)[c]])));
  }
  return out;
}

async function migrationState(db: Db): Promise<{ done: string[]; pending: string[] }> {
  const [done, pending] = (await db.migrate.list(migrationConfig())) as [unknown[], unknown[]];
  // Completed ones come as { name }, pending ones as the migration source lists them (file names).
  const name = (m: unknown) => (typeof m === 'string' ? m : ((m as { name?: string; file?: string }).name ?? (m as { file: string }).file));
  return { done: done.map(name), pending: pending.map(name) };
}

describe('v1 → v2 migration on v1 data, and its rollback', () => {
  let tdb: TestDb;
  const t = useTestApp(async (onClose) => {
    tdb = await createTestDb({ migrate: false });
    onClose(() => tdb.destroy());
    return { tdb };
  });
  const db = () => tdb.db;

  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 20, 8, minutes, 0, 123));
  const ids = { zhang: 0, li: 0, anon: 0, zhangDefault: 0, zhangOld: 0, liDefault: 0, anonDir: 0, milk: 0, oldGoods: 0 };
  let v1Rows: Record<string, unknown[]>;
  let v1Schema: Record<string, unknown>;
  let zhang: Caller;
  let li: Caller;

  it('migrates an empty database up to the v1 migrations only, one at a time', async () => {
    expect(await migrationState(db())).toEqual({ done: [], pending: ALL_MIGRATIONS });
    for (const name of V1_MIGRATIONS) {
      await db().migrate.up(migrationConfig());
      expect((await migrationState(db())).done.at(-1)).toBe(name);
    }
    expect(await migrationState(db())).toEqual({ done: V1_MIGRATIONS, pending: [V2_MIGRATION, ...LATER_MIGRATIONS] });
    expect((await tableNames(db())).filter((n) => !n.startsWith('knex_'))).toEqual([...V1_TABLES, 'sessions'].sort());
    expect(Object.keys(await db()('logs').columnInfo()).sort()).toEqual(
      ['created_at', 'delta', 'directory_id', 'directory_name', 'goods_id', 'goods_name', 'id', 'quantity_after', 'type', 'user_id'].sort(),
    );
  });

  it('holds v1 data written as the v1 app wrote it', async () => {
    const insert = async (table: string, row: Record<string, unknown>) => Number(((await db()(table).insert(row)) as number[])[0]);
    const user = (openid: string, nickname: string | null, m: number) => ({
      openid,
      nickname,
      gender: 0,
      created_at: at(m),
      updated_at: at(m),
    });
    ids.zhang = await insert('users', user('o-zhang', '张三', 0));
    ids.li = await insert('users', user('o-li', '李四', 1));
    ids.anon = await insert('users', user('o-anon', null, 2));

    const dir = (userId: number, name: string, m: number, deleted = false) => ({
      user_id: userId,
      name,
      use_count: 3,
      created_at: at(m),
      last_active_at: at(m + 1),
      live: deleted ? null : 1,
      deleted_at: deleted ? at(m + 5) : null,
    });
    ids.zhangDefault = await insert('directories', dir(ids.zhang, '默认', 10));
    ids.zhangOld = await insert('directories', dir(ids.zhang, '旧仓库', 11, true));
    ids.liDefault = await insert('directories', dir(ids.li, '默认', 12));
    ids.anonDir = await insert('directories', dir(ids.anon, '无名', 13));

    const goods = (dirId: number, userId: number, code: string, quantity: number, deleted = false) => ({
      user_id: userId,
      directory_id: dirId,
      code,
      name: code,
      remarks: '',
      quantity,
      created_at: at(20),
      last_active_at: at(21),
      live: deleted ? null : 1,
      deleted_at: deleted ? at(22) : null,
    });
    ids.milk = await insert('goods', goods(ids.zhangDefault, ids.zhang, 'MILK', 5));
    ids.oldGoods = await insert('goods', goods(ids.zhangOld, ids.zhang, 'OLD', 2, true));

    const log = (userId: number, type: string, dirId: number | null, dirName: string | null, extra: Record<string, unknown> = {}) => ({
      user_id: userId,
      type,
      directory_id: dirId,
      directory_name: dirName,
      goods_id: null,
      goods_name: null,
      delta: null,
      quantity_after: null,
      created_at: at(30),
      ...extra,
    });
    await db()('logs').insert([
      log(ids.zhang, 'directory.create', ids.zhangDefault, '默认'),
      log(ids.zhang, 'directory.create', ids.zhangOld, '旧仓库'),
      log(ids.li, 'directory.create', ids.liDefault, '默认'),
      log(ids.anon, 'directory.create', ids.anonDir, '无名'),
      log(ids.zhang, 'stock.in', ids.zhangDefault, '默认', { goods_id: ids.milk, goods_name: 'MILK', delta: 5, quantity_after: 5 }),
      log(ids.zhang, 'stock.in', ids.zhangOld, '旧仓库', { goods_id: ids.oldGoods, goods_name: 'OLD', delta: 2, quantity_after: 2 }),
      log(ids.zhang, 'directory.delete', ids.zhangOld, '旧仓库'),
    ]);
    await db()('request_results').insert({
      user_id: ids.zhang,
      request_id: 'v1-request',
      procedure: 'goods.stockIn',
      fingerprint: 'f'.repeat(64),
      response: '{"json":{"ok":true}}',
      created_at: at(40),
    });
    v1Rows = await rowsOf(db());
    v1Schema = await schemaOf(db());
    expect(v1Rows.logs).toHaveLength(7);
  });

  it('migrates to the latest: every warehouse has its owner as `owner` member; every log its actor and actor_name', async () => {
    expect(await migrateLatest(db())).toEqual([V2_MIGRATION, ...LATER_MIGRATIONS]);
    expect((await tableNames(db())).filter((n) => !n.startsWith('knex_'))).toEqual(
      // The sharing tables, and those of the migrations after it (stocktakes, spreadsheets).
      [
        ...V1_TABLES,
        'sessions',
        'directory_members',
        'invites',
        'stocktakes',
        'stocktake_lines',
        'export_links',
        'imports',
        'import_rows',
      ].sort(),
    );

    const members = (await db()('directory_members').select('*').orderBy('directory_id')) as Record<string, unknown>[];
    const directories = v1Rows.directories as Record<string, unknown>[];
    expect(members).toHaveLength(directories.length);
    for (const d of directories) {
      const mine = members.filter((m) => Number(m.directory_id) === Number(d.id));
      expect(mine, `members of directory ${String(d.name)}`).toHaveLength(1);
      expect(Number(mine[0]!.user_id)).toBe(Number(d.user_id));
      expect(mine[0]!.role).toBe('owner');
      expect(toDate(mine[0]!.joined_at as Date)).toEqual(toDate(d.created_at as Date));
    }

    const nickname = new Map((v1Rows.users as Record<string, unknown>[]).map((u) => [Number(u.id), u.nickname]));
    const logs = (await db()('logs').select('*').orderBy('id')) as Record<string, unknown>[];
    expect(logs).toHaveLength(7);
    for (const [i, l] of logs.entries()) {
      const before = v1Rows.logs![i] as Record<string, unknown>;
      // Every v1 column as it was; user_id is the actor now.
      for (const [column, value] of Object.entries(before)) expect(l[column], column).toEqual(value);
      expect(l.actor_name).toBe(nickname.get(Number(l.user_id)));
      expect(l).toMatchObject({ note: null, counterpart_directory_id: null, counterpart_directory_name: null, target_user_id: null });
    }
    expect(logs.filter((l) => l.actor_name === null).map((l) => Number(l.user_id))).toEqual([ids.anon]);
    expect(await db()('invites').select('id')).toEqual([]);
    // The v1 rows of the other tables are untouched.
    const now = v1Columns(await rowsOf(db()), v1Rows);
    for (const table of ['users', 'directories', 'goods', 'request_results']) expect(now[table], table).toEqual(v1Rows[table]);
  });

  it('the app works for v1 owners: directory.list, log.list (with a deleted warehouse’s history), members, goods', async () => {
    zhang = t.caller((await createSession(db(), ids.zhang, 30, t.now())).token);
    li = t.caller((await createSession(db(), ids.li, 30, t.now())).token);

    expect(await zhang.directory.list()).toEqual([
      expect.objectContaining({
        id: ids.zhangDefault,
        name: '默认',
        role: 'owner',
        ownerId: ids.zhang,
        ownerNickname: '张三',
        memberCount: 1,
        goodsCount: 1,
        totalQuantity: 5,
        useCount: 3,
        createdAt: at(10),
      }),
    ]);
    expect(await zhang.directory.members({ directoryId: ids.zhangDefault })).toEqual([
      { userId: ids.zhang, nickname: '张三', avatarUrl: null, role: 'owner', joinedAt: at(10) },
    ]);
    expect(await zhang.goods.scan({ directoryId: ids.zhangDefault, code: 'MILK' })).toMatchObject({ id: ids.milk, quantity: 5 });

    const history = await zhang.log.list({ limit: 100 });
    expect(history.items.map((e) => [e.type, e.directoryName, e.actorId, e.actorName])).toEqual([
      ['directory.delete', '旧仓库', ids.zhang, '张三'],
      ['stock.in', '旧仓库', ids.zhang, '张三'],
      ['stock.in', '默认', ids.zhang, '张三'],
      ['directory.create', '旧仓库', ids.zhang, '张三'],
      ['directory.create', '默认', ids.zhang, '张三'],
    ]);
    expect((await zhang.log.list({ directoryId: ids.zhangOld })).items).toHaveLength(3);
    await expect(zhang.directory.get({ id: ids.zhangOld })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Another v1 user sees only their own.
    expect((await li.directory.list()).map((d) => d.id)).toEqual([ids.liDefault]);
    expect((await li.log.list({ limit: 100 })).items.map((e) => e.directoryId)).toEqual([ids.liDefault]);
    expect(await li.log.list({ directoryId: ids.zhangOld })).toEqual({ items: [], nextCursor: null });
    await expect(li.directory.get({ id: ids.zhangDefault })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('rolls the v2 migration back: v1 schema and data intact', async () => {
    // The later migrations first, then the sharing one, one at a time.
    for (const name of [...LATER_MIGRATIONS].reverse().concat(V2_MIGRATION)) {
      expect((await migrationState(db())).done.at(-1)).toBe(name);
      await db().migrate.down(migrationConfig());
    }
    expect(await migrationState(db())).toEqual({ done: V1_MIGRATIONS, pending: [V2_MIGRATION, ...LATER_MIGRATIONS] });
    const tables = await tableNames(db());
    expect(tables).not.toContain('directory_members');
    expect(tables).not.toContain('invites');
    expect(await schemaOf(db())).toEqual(v1Schema);
    expect(await rowsOf(db())).toEqual(v1Rows);
  });

  it('migrates up again, and the team features work on the migrated data', async () => {
    expect(await migrateLatest(db())).toEqual([V2_MIGRATION, ...LATER_MIGRATIONS]);
    expect(await db()('directory_members').where({ role: 'owner' }).pluck('directory_id')).toHaveLength(v1Rows.directories!.length);
    const { goods } = await zhang.goods.stockIn({ directoryId: ids.zhangDefault, code: 'MILK', quantity: 2, requestId: 'v2-request' });
    expect(goods).toMatchObject({ id: ids.milk, quantity: 7 });
    const invite = await zhang.invite.create({ directoryId: ids.zhangDefault, role: 'clerk' });
    expect((await li.invite.accept({ token: invite.token })).memberCount).toBe(2);
    await li.goods.stockOut({ directoryId: ids.zhangDefault, code: 'MILK' });
    const page = await zhang.log.list({ directoryId: ids.zhangDefault, limit: 3 });
    expect(page.items.map((e) => [e.type, e.actorId, e.actorName])).toEqual([
      ['stock.out', ids.li, '李四'],
      ['member.join', ids.li, '李四'],
      ['stock.in', ids.zhang, '张三'],
    ]);
  });
});
