import { hashToken, lookupSession } from '../src/auth/sessions';
import { createDb } from '../src/db/knex';
import { createBarePool } from './bare';
import { benchDatabaseName, dropDatabase, freshDatabase, seedDatabase } from './seed';
import { DEFAULT_BENCH_DATABASE_URL } from './options';

/*
 * `npx tsx bench/micro-queries.ts`: CPU cost per query of the same indexed goods lookup issued
 * through the knex builder, through knex.raw with the builder's SQL compiled once, and through
 * mysql2 directly, 50 in flight at a time. Isolates the query layer's share of the scan's cost.
 */

const IN_FLIGHT = 50;
const QUERIES = 20_000;

async function cpuPerQuery(label: string, run: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 2000; i++) await run(i); // warm up the JIT and the pool
  const t0 = process.cpuUsage();
  const w0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < QUERIES) await run(next++);
    }),
  );
  const u = process.cpuUsage(t0);
  const wall = (Date.now() - w0) / 1000;
  console.log(
    `${label.padEnd(44)} ${((u.user + u.system) / QUERIES).toFixed(1).padStart(6)} µs CPU/query  ${(QUERIES / wall).toFixed(0).padStart(6)} q/s`,
  );
}

async function main(): Promise<void> {
  const base = process.env.BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL;
  const name = `${benchDatabaseName(base)}_micro`;
  const { db: seedDb, url } = await freshDatabase(base, name);
  const { users } = await seedDatabase(seedDb, { benchUsers: 50, goodsPerUser: 20, totalGoods: 1000, chunk: 5000 });
  await seedDb.destroy();
  const db = createDb({ url, poolMax: 10 });
  const pool = createBarePool(url, 10);
  const pick = (i: number) => {
    const u = users[i % users.length]!;
    return { directoryId: u.directoryId, code: u.codes[i % u.codes.length]!, userId: u.userId };
  };
  const cols = ['id', 'directory_id', 'code', 'name', 'remarks', 'quantity', 'created_at', 'last_active_at'];
  const compiled = db('goods').select(cols).where({ directory_id: 0, code: '', user_id: 0, live: 1 }).first().toSQL().toNative();
  const bindings = (i: number) => {
    const p = pick(i);
    return [p.directoryId, p.code, p.userId, 1, 1];
  };
  const token = (i: number) => users[i % users.length]!.token;
  const cases: Array<[string, (i: number) => Promise<unknown>]> = [
    ["knex.raw('select 1')", () => db.raw('select 1')],
    ['lookupSession (src/auth/sessions.ts)', (i) => lookupSession(db, token(i))],
    [
      'session SELECT through the builder only',
      (i) =>
        db('sessions')
          .select('id', 'user_id', 'expires_at', 'last_seen_at', 'revoked_at')
          .where({ token_hash: hashToken(token(i)) })
          .first(),
    ],
    [
      'knex builder .first()',
      (i) => {
        const p = pick(i);
        return db('goods').select(cols).where({ directory_id: p.directoryId, code: p.code, user_id: p.userId, live: 1 }).first();
      },
    ],
    ['knex.raw(compiled once, bindings)', (i) => db.raw(compiled.sql, bindings(i))],
    ['mysql2 pool.query (text protocol)', (i) => pool.query(compiled.sql, bindings(i))],
    ['mysql2 pool.execute (prepared)', (i) => pool.execute(compiled.sql, bindings(i))],
  ];
  try {
    // Twice: the first pass is also the machine settling; compare within a pass.
    for (let round = 1; round <= 2; round++) {
      console.log(`pass ${round}`);
      for (const [label, run] of cases) await cpuPerQuery(label, run);
    }
  } finally {
    await db.destroy();
    await pool.end();
    await dropDatabase(base, name);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
