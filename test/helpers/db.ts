import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { createDb, dbKind, mysqlConnectionFromUrl, type Db, type DbKind } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { testDatabaseUrl } from './env';

export interface TestDb {
  kind: DbKind;
  db: Db;
  /** DATABASE_URL for MySQL, undefined for SQLite. */
  url?: string;
  /** The SQLite file, for SQLite. */
  sqliteFile?: string;
  /** Destroys the pool and drops the database / deletes the file. */
  destroy(): Promise<void>;
}

export function testDbKind(): DbKind {
  const kind = process.env.TEST_DB ?? 'mysql';
  if (kind !== 'mysql' && kind !== 'sqlite') throw new Error(`TEST_DB must be mysql or sqlite, not ${kind}`);
  return kind;
}

function uniqueSuffix(): string {
  return `t${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}

/** An empty database of its own (MySQL database or SQLite file), optionally migrated. */
export async function createTestDb(opts: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDb> {
  const kind = testDbKind();
  const migrate = opts.migrate ?? true;
  if (kind === 'mysql') {
    const base = mysqlConnectionFromUrl(testDatabaseUrl());
    const name = `${base.database ?? 'scancode_test'}_${uniqueSuffix()}`;
    const admin = await mysql.createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
    await admin.query(`CREATE DATABASE ${mysql.escapeId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await admin.end();
    const u = new URL(testDatabaseUrl());
    u.pathname = `/${name}`;
    const url = u.toString();
    const db = createDb({ url, poolMax: opts.poolMax ?? 10 });
    if (migrate) await migrateLatest(db);
    return {
      kind,
      db,
      url,
      async destroy() {
        await db.destroy();
        const conn = await mysql.createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
        await conn.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
        await conn.end();
      },
    };
  }
  const sqliteFile = path.join(os.tmpdir(), `scancode-test-${uniqueSuffix()}.sqlite3`);
  const db = createDb({ sqliteFile });
  if (migrate) await migrateLatest(db);
  return {
    kind,
    db,
    sqliteFile,
    async destroy() {
      await db.destroy();
      for (const suffix of ['', '-wal', '-shm']) rmSync(sqliteFile + suffix, { force: true });
    },
  };
}

/** The tables of the test database, sorted (knex's own included). */
export async function tableNames(db: Db): Promise<string[]> {
  if (dbKind(db) === 'mysql') {
    const [rows] = (await db.raw('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()')) as [
      { name: string }[],
    ];
    return rows.map((r) => r.name).sort();
  }
  const rows = (await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")) as { name: string }[];
  return rows.map((r) => r.name).sort();
}
