import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { MIGRATIONS_DIR, migrateLatest, rollbackAll } from '../../src/db/migrate';
import { createTestDb, tableNames, type TestDb } from '../helpers/db';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const APP_TABLES = [
  'directories',
  'directory_members',
  'export_links',
  'goods',
  'import_rows',
  'imports',
  'invites',
  'logs',
  'request_results',
  'sessions',
  'stocktake_lines',
  'stocktakes',
  'users',
];

const appTables = (names: string[]) => names.filter((n) => !n.startsWith('knex_'));
const MIGRATION_FILES = readdirSync(MIGRATIONS_DIR)
  .filter((f) => f.endsWith('.ts'))
  .sort();

describe('migrations', () => {
  let tdb: TestDb | undefined;
  afterEach(async () => {
    await tdb?.destroy();
    tdb = undefined;
  });

  it('migrate.latest creates every table and rollback --all leaves none (programmatic)', async () => {
    tdb = await createTestDb({ migrate: false });
    expect(appTables(await tableNames(tdb.db))).toEqual([]);
    expect(MIGRATION_FILES[0]).toBe('20261124000000_initial_schema.ts');
    expect(await migrateLatest(tdb.db)).toEqual(MIGRATION_FILES);
    expect(appTables(await tableNames(tdb.db))).toEqual(APP_TABLES);
    expect(await migrateLatest(tdb.db)).toEqual([]);
    await rollbackAll(tdb.db);
    expect(appTables(await tableNames(tdb.db))).toEqual([]);
  });

  it('the knex CLI migrates and rolls back from knexfile.ts', async () => {
    tdb = await createTestDb({ migrate: false });
    const env = {
      ...process.env,
      DATABASE_URL: tdb.url ?? '',
      SQLITE_FILE: tdb.sqliteFile ?? '',
    };
    const knexBin = path.join(ROOT, 'node_modules/.bin/knex');
    const up = await run(knexBin, ['migrate:latest'], { cwd: ROOT, env });
    expect(up.stdout).toContain(`Batch 1 run: ${MIGRATION_FILES.length} migrations`);
    expect(appTables(await tableNames(tdb.db))).toEqual(APP_TABLES);

    // The server's own migrator agrees with what the CLI recorded: nothing left to apply.
    expect(await migrateLatest(tdb.db)).toEqual([]);

    const down = await run(knexBin, ['migrate:rollback', '--all'], { cwd: ROOT, env });
    expect(down.stdout).toContain(`rolled back: ${MIGRATION_FILES.length} migrations`);
    expect(appTables(await tableNames(tdb.db))).toEqual([]);
  });

  it('enforces the keys the contract implies', async () => {
    tdb = await createTestDb();
    const db = tdb.db;
    const now = new Date();
    const [userId] = await db('users').insert({ openid: 'o1', gender: 0, created_at: now, updated_at: now });
    const dir = { user_id: userId, name: 'A', use_count: 0, created_at: now, last_active_at: now, live: true };
    const [dirId] = await db('directories').insert(dir);
    await expect(db('directories').insert(dir)).rejects.toThrow();
    // A deleted directory frees its name.
    await db('directories').where({ id: dirId }).update({ live: null, deleted_at: now });
    await db('directories').insert(dir);
    const [liveDirId] = await db('directories').where({ live: true }).pluck('id');

    const goods = {
      user_id: userId,
      directory_id: liveDirId,
      code: 'X',
      name: 'X',
      quantity: 1,
      created_at: now,
      last_active_at: now,
      live: true,
    };
    await db('goods').insert(goods);
    await expect(db('goods').insert(goods)).rejects.toThrow();
    // Codes are compared byte for byte: case differs, so this is another code.
    await db('goods').insert({ ...goods, code: 'x' });
    await expect(db('goods').where({ code: 'X' }).update({ quantity: -1 })).rejects.toThrow();
    expect(await db('goods').where({ code: 'X' }).first()).toMatchObject({ quantity: 1 });
  });
});
