import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

describe('npx knex seed:run', () => {
  let tdb: TestDb;
  beforeAll(async () => {
    tdb = await createTestDb();
  });
  afterAll(async () => {
    await tdb.destroy();
  });

  async function seed() {
    const env = { ...process.env, DATABASE_URL: tdb.url ?? '', SQLITE_FILE: tdb.sqliteFile ?? '' };
    const out = await run(path.join(ROOT, 'node_modules/.bin/knex'), ['seed:run'], { cwd: ROOT, env });
    expect(out.stdout).toMatch(/Ran 1 seed files/);
  }

  async function snapshot() {
    const user = await tdb.db('users').where({ openid: 'dev-demo' }).first('id');
    const dirs = await tdb.db('directories').where({ user_id: user.id }).orderBy('id').select('name');
    const goods = await tdb.db('goods').where({ user_id: user.id }).select('quantity');
    const logs = await tdb.db('logs').where({ user_id: user.id }).count({ n: '*' });
    return {
      dirs: dirs.map((d) => d.name),
      goods: goods.length,
      total: goods.reduce((s, g) => s + g.quantity, 0),
      logs: Number(logs[0]?.n),
    };
  }

  it('loads a demo user with warehouses, goods and history whose figures agree', async () => {
    await seed();
    const s = await snapshot();
    expect(s.dirs).toEqual(['默认', '门店', '仓库 B']);
    expect(s.goods).toBeGreaterThanOrEqual(20);
    expect(s.logs).toBeGreaterThan(s.goods);

    // Every goods quantity is exactly what its stock history adds up to.
    const rows: { id: number; quantity: number; moved: number | string }[] = await tdb
      .db('goods as g')
      .join('logs as l', 'l.goods_id', 'g.id')
      .groupBy('g.id', 'g.quantity')
      .select('g.id', 'g.quantity')
      .sum({ moved: 'l.delta' });
    expect(rows.length).toBe(s.goods);
    for (const r of rows) expect(Number(r.moved)).toBe(r.quantity);

    // Re-running replaces the demo data instead of doubling it.
    await seed();
    expect(await snapshot()).toEqual(s);
  });
});
