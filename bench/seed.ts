import mysql from 'mysql2/promise';
import { createSession } from '../src/auth/sessions';
import { createDb, mysqlConnectionFromUrl, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrate';

/*
 * Benchmark data, written with chunked multi-row INSERTs through knex (the same driver settings as
 * the server). Bench users come first, so their ids are the same in every benchmark database and a
 * request built for one database is valid against the other.
 */

export interface BenchUser {
  userId: number;
  directoryId: number;
  token: string;
  /** Codes that exist in this user's directory. */
  codes: string[];
}

export interface HotFixture {
  userId: number;
  directoryId: number;
  goodsId: number;
  code: string;
  start: number;
  /** One session per concurrent "device" hammering the goods. */
  tokens: string[];
}

export interface SeedResult {
  users: BenchUser[];
  goodsRows: number;
  seconds: number;
}

const SESSION_TTL_DAYS = 30;
const FILLER_GOODS_PER_USER = 500;

/** Refuses anything that does not look like a benchmark database: the bench drops and recreates it. */
export function assertBenchDatabaseName(name: string): void {
  if (!/bench/i.test(name)) {
    throw new Error(
      `Refusing to use database "${name}": the benchmark drops and recreates its databases, so the name must contain "bench"`,
    );
  }
}

export function databaseUrl(baseUrl: string, name: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export function benchDatabaseName(baseUrl: string): string {
  return mysqlConnectionFromUrl(baseUrl).database ?? 'scancode_bench';
}

async function adminConnection(baseUrl: string): Promise<mysql.Connection> {
  const c = mysqlConnectionFromUrl(baseUrl);
  return mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
}

/** Drops and recreates the database, then migrates it with the server's own migrations. */
export async function freshDatabase(
  baseUrl: string,
  name: string,
  dropIndexes: Array<{ table: string; index: string }> = [],
  poolMax = 4,
): Promise<{ url: string; db: Db }> {
  assertBenchDatabaseName(name);
  const admin = await adminConnection(baseUrl);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
    await admin.query(`CREATE DATABASE ${mysql.escapeId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(baseUrl, name);
  const db = createDb({ url, poolMax });
  await migrateLatest(db);
  for (const { table, index } of dropIndexes) await db.schema.alterTable(table, (t) => t.dropIndex([], index));
  return { url, db };
}

export async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  assertBenchDatabaseName(name);
  const admin = await adminConnection(baseUrl);
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  } finally {
    await admin.end();
  }
}

export async function serverVersion(baseUrl: string): Promise<string> {
  const admin = await adminConnection(baseUrl);
  try {
    const [rows] = (await admin.query('SELECT VERSION() AS v')) as unknown as [Array<{ v: string }>];
    return rows[0]?.v ?? 'unknown';
  } finally {
    await admin.end();
  }
}

function userRow(openid: string, now: Date) {
  return { openid, nickname: openid, gender: 0, created_at: now, updated_at: now };
}

function directoryRow(userId: number, now: Date) {
  return { user_id: userId, name: '默认', use_count: 0, created_at: now, last_active_at: now, live: 1 };
}

function goodsRow(userId: number, directoryId: number, code: string, quantity: number, now: Date) {
  return {
    user_id: userId,
    directory_id: directoryId,
    code,
    name: `商品 ${code.slice(-6)}`,
    remarks: '',
    quantity,
    created_at: now,
    last_active_at: now,
    live: 1,
  };
}

/** An EAN-13-looking code, unique per (prefix, n). */
export function benchCode(prefix: number, n: number): string {
  return `69${String(prefix).padStart(5, '0')}${String(n).padStart(6, '0')}`;
}

async function insertChunked<T extends object>(db: Db, table: string, rows: Iterable<T>, chunk: number): Promise<number> {
  let batch: T[] = [];
  let total = 0;
  for (const row of rows) {
    batch.push(row);
    if (batch.length >= chunk) {
      await db(table).insert(batch);
      total += batch.length;
      batch = [];
    }
  }
  if (batch.length > 0) {
    await db(table).insert(batch);
    total += batch.length;
  }
  return total;
}

/** Inserts users by openid and returns their ids in the same order. */
async function insertUsers(db: Db, openids: string[], now: Date, chunk: number): Promise<number[]> {
  await insertChunked(
    db,
    'users',
    openids.map((o) => userRow(o, now)),
    chunk,
  );
  const rows = (await db('users').select('id', 'openid').whereIn('openid', openids)) as Array<{ id: number; openid: string }>;
  const byOpenid = new Map(rows.map((r) => [r.openid, Number(r.id)]));
  return openids.map((o) => {
    const id = byOpenid.get(o);
    if (id === undefined) throw new Error(`seeded user ${o} not found`);
    return id;
  });
}

async function insertDirectories(db: Db, userIds: number[], now: Date, chunk: number): Promise<number[]> {
  await insertChunked(
    db,
    'directories',
    userIds.map((u) => directoryRow(u, now)),
    chunk,
  );
  const rows = (await db('directories').select('id', 'user_id').whereIn('user_id', userIds)) as Array<{ id: number; user_id: number }>;
  const byUser = new Map(rows.map((r) => [Number(r.user_id), Number(r.id)]));
  return userIds.map((u) => {
    const id = byUser.get(u);
    if (id === undefined) throw new Error(`seeded directory of user ${u} not found`);
    return id;
  });
}

export interface SeedSpec {
  benchUsers: number;
  goodsPerUser: number;
  /** Total goods rows wanted in the table; the rest belongs to other ("filler") users. */
  totalGoods: number;
  chunk: number;
  /** Quantity on hand of every bench goods: large, so stock-ins never hit a limit. */
  quantity?: number;
}

/**
 * Bench users (a session and a directory each, `goodsPerUser` goods), then filler users whose goods
 * bring the table to `totalGoods` rows.
 */
export async function seedDatabase(db: Db, spec: SeedSpec): Promise<SeedResult> {
  const started = Date.now();
  const now = new Date();
  const benchIds = await insertUsers(
    db,
    Array.from({ length: spec.benchUsers }, (_, i) => `bench-u${i}`),
    now,
    spec.chunk,
  );
  const benchDirs = await insertDirectories(db, benchIds, now, spec.chunk);
  const qty = spec.quantity ?? 1_000_000;

  const users: BenchUser[] = [];
  for (let i = 0; i < benchIds.length; i++) {
    const userId = benchIds[i]!;
    const directoryId = benchDirs[i]!;
    const codes = Array.from({ length: spec.goodsPerUser }, (_, n) => benchCode(i, n));
    const { token } = await createSession(db, userId, SESSION_TTL_DAYS, now);
    users.push({ userId, directoryId, token, codes });
  }
  function* benchGoods() {
    for (const u of users) for (const code of u.codes) yield goodsRow(u.userId, u.directoryId, code, qty, now);
  }
  let goodsRows = await insertChunked(db, 'goods', benchGoods(), spec.chunk);

  const filler = Math.max(0, spec.totalGoods - goodsRows);
  if (filler > 0) {
    const fillerUsers = Math.ceil(filler / FILLER_GOODS_PER_USER);
    const ids = await insertUsers(
      db,
      Array.from({ length: fillerUsers }, (_, i) => `filler-u${i}`),
      now,
      spec.chunk,
    );
    const dirs = await insertDirectories(db, ids, now, spec.chunk);
    function* fillerGoods() {
      for (let n = 0; n < filler; n++) {
        const owner = n % fillerUsers;
        yield goodsRow(ids[owner]!, dirs[owner]!, benchCode(50_000 + owner, Math.floor(n / fillerUsers)), 1 + (n % 97), now);
      }
    }
    goodsRows += await insertChunked(db, 'goods', fillerGoods(), spec.chunk);
  }
  // Fresh statistics, as a long-running database would have.
  await db.raw('ANALYZE TABLE goods, directories, sessions, users');
  return { users, goodsRows, seconds: (Date.now() - started) / 1000 };
}

/** A user of its own with one contended goods and `sessions` sessions (devices) for row 5. */
export async function seedHot(db: Db, start: number, sessions: number): Promise<HotFixture> {
  const now = new Date();
  const [userId] = await insertUsers(db, ['bench-hot'], now, 10);
  const [directoryId] = await insertDirectories(db, [userId!], now, 10);
  const code = 'HOT-6900000000001';
  const [goodsId] = (await db('goods').insert(goodsRow(userId!, directoryId!, code, start, now))) as number[];
  const tokens: string[] = [];
  for (let i = 0; i < sessions; i++) tokens.push((await createSession(db, userId!, SESSION_TTL_DAYS, now)).token);
  return { userId: userId!, directoryId: directoryId!, goodsId: goodsId!, code, start, tokens };
}
