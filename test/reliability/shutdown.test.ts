import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src/auth/sessions';
import { insertUserWithDefaultDirectory } from '../../src/auth/users';
import { createTestDb, type TestDb } from '../helpers/db';
import { startServerProcess, type ServerProcess } from '../helpers/process';
import { postCall } from './support/http';

/*
 * SIGTERM while 50 stock changes are in flight, against the real server process (`npm start`):
 * every acknowledged change is committed, none is half-written (goods, log and requestId record
 * agree), the refused ones left nothing, and the process exits 0.
 */

const IN_FLIGHT = 50;

describe('graceful shutdown of the real server process', () => {
  let tdb: TestDb;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    tdb = await createTestDb();
  });

  afterAll(async () => {
    if (server && server.child.exitCode === null) await server.stop('SIGKILL');
    await tdb?.destroy();
  });

  it('finishes the in-flight stock changes, refuses new ones, and exits 0', async () => {
    server = await startServerProcess({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      ...(tdb.url ? { DATABASE_URL: tdb.url } : { SQLITE_FILE: tdb.sqliteFile! }),
      SHUTDOWN_TIMEOUT_MS: '20000',
    });

    // The process has migrated; give it a user and a session directly in its database.
    const now = new Date();
    const userId = await tdb.db.transaction((trx) => insertUserWithDefaultDirectory(trx, { openid: 'shutdown-user' }, now));
    const { token } = await createSession(tdb.db, userId, 30, now);
    const directoryId = Number((await tdb.db('directories').where({ user_id: userId }).first('id')).id);
    const headers = { 'x-session-token': token };

    let sigtermAt = Infinity;
    const settled: { requestId: string; ok: boolean; at: number; status?: number }[] = [];
    const calls = Array.from({ length: IN_FLIGHT }, async (_, i) => {
      const requestId = `sd-${i}`;
      try {
        const res = await postCall(
          server!.url,
          'goods.stockIn',
          superjson.serialize({ directoryId, code: 'SHUTDOWN-1', quantity: 1, requestId }),
          headers,
        );
        settled.push({ requestId, ok: res.status === 200, status: res.status, at: performance.now() });
      } catch {
        // Connection refused or closed before an answer: not acknowledged.
        settled.push({ requestId, ok: false, at: performance.now() });
      }
    });

    // SIGTERM as soon as the first change is acknowledged: the rest are on the wire or queued.
    while (settled.length === 0) await new Promise((r) => setTimeout(r, 1));
    sigtermAt = performance.now();
    const exit = server.stop('SIGTERM');
    // Once shutdown has begun, a new call is refused (503 while draining, or no connection at all).
    while (!server.output().includes('shutting down')) await new Promise((r) => setTimeout(r, 1));
    let late: number | 'refused';
    try {
      const res = await postCall(
        server.url,
        'goods.stockIn',
        superjson.serialize({ directoryId, code: 'SHUTDOWN-1', quantity: 1, requestId: 'late' }),
        headers,
      );
      late = res.status;
    } catch {
      late = 'refused';
    }
    await Promise.all(calls);
    const code = await exit;
    expect([503, 'refused']).toContain(late);

    expect(code, server.output().slice(-3000)).toBe(0);
    const acked = settled.filter((s) => s.ok);
    expect(settled).toHaveLength(IN_FLIGHT);
    // In-flight work was finished after the signal, not cut off.
    expect(acked.filter((s) => s.at > sigtermAt).length).toBeGreaterThan(0);
    for (const s of settled.filter((x) => !x.ok && x.status !== undefined)) expect(s.status).toBe(503);

    const goods = await tdb.db('goods').where({ user_id: userId, code: 'SHUTDOWN-1' }).first('id', 'quantity');
    const logs = (await tdb
      .db('logs')
      .where({ user_id: userId, type: 'stock.in' })
      .orderBy('id')
      .select('delta', 'quantity_after', 'goods_id')) as { delta: number; quantity_after: number; goods_id: number }[];
    const records = (await tdb.db('request_results').where({ user_id: userId }).pluck('request_id')) as string[];

    expect(Number(goods?.quantity ?? 0)).toBe(acked.length);
    expect(logs).toHaveLength(acked.length);
    expect(logs.reduce((sum, l) => sum + Number(l.delta), 0)).toBe(acked.length);
    // Each change saw the one before it: quantity_after runs 1, 2, 3, … with no gap or repeat.
    expect(logs.map((l) => Number(l.quantity_after))).toEqual(acked.map((_, i) => i + 1));
    expect(new Set(records)).toEqual(new Set(acked.map((s) => s.requestId)));
  }, 60_000);
});
