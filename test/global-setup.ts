import mysql from 'mysql2/promise';
import { buildServerBundle } from '../scripts/build-server';
import { mysqlConnectionFromUrl } from '../src/db/knex';
import { MYSQL_START_HINT, testDatabaseUrl } from './helpers/env';

/** Per-file databases left behind by a crashed run older than this are dropped. */
const STALE_AFTER_SECONDS = 2 * 3600;

/**
 * Fails the whole run, loudly, when MySQL is not reachable: the suite must not quietly turn into a
 * SQLite-only run. Creates the base test database and sweeps stale per-file databases. Builds the
 * server that the process tests start, from the sources under test.
 */
export default async function setup(): Promise<void> {
  await buildServerBundle();
  const url = testDatabaseUrl();
  const { database, ...conn } = mysqlConnectionFromUrl(url);
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({ ...conn, connectTimeout: 5000 });
  } catch (err) {
    throw new Error(`MySQL/MariaDB is not reachable at ${conn.host}:${conn.port} (${(err as Error).message}). ${MYSQL_START_HINT}`);
  }
  try {
    const base = database ?? 'scancode_test';
    await connection.query(`CREATE DATABASE IF NOT EXISTS ${mysql.escapeId(base)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE ?',
      [`${base}\\_t%`],
    );
    const now = Math.floor(Date.now() / 1000);
    for (const row of rows) {
      const m = /_t(\d+)_/.exec(String(row.name));
      if (m && now - Number(m[1]) > STALE_AFTER_SECONDS) {
        await connection.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(String(row.name))}`);
      }
    }
  } finally {
    await connection.end();
  }
}
