import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/knex';
import { migrateLatest } from '../../src/db/migrate';
import { useTestApp, type TestUser } from '../helpers/app';
import { testDbKind, type TestDb } from '../helpers/db';
import { privateMariaDbAvailable, startPrivateMariaDb, type PrivateMariaDb } from '../helpers/mariadb';
import { call, send, sessionHeaders, trpcData, trpcError } from './support/http';

/*
 * The database dies under load (SIGKILL of a private mariadbd) and comes back. The app is never
 * restarted. Calls must fail fast and cleanly while it is down, /healthz must say so, the pool must
 * reconnect by itself, and no acknowledged stock change may be lost or counted twice — including
 * those whose outcome the client never learned, retried with the same requestId.
 */

const kind = testDbKind();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Refusing connections is instant; anything near the 10 s pool acquire timeout would be a hang. */
const FAIL_FAST_MS = 3000;

describe.skipIf(kind !== 'mysql' || !privateMariaDbAvailable())('database outage (private mariadbd, killed and restarted)', () => {
  let maria: PrivateMariaDb;
  let tdb: TestDb;

  beforeAll(async () => {
    maria = await startPrivateMariaDb();
    const admin = await mysql.createConnection({ host: '127.0.0.1', port: maria.port, user: 'root' });
    await admin.query('CREATE DATABASE scancode_outage CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci');
    await admin.end();
    const url = maria.url('scancode_outage');
    const db = createDb({ url, poolMax: 5 });
    await migrateLatest(db);
    tdb = { kind: 'mysql', db, url, destroy: () => db.destroy() };
  }, 120_000);

  afterAll(async () => {
    await tdb?.destroy();
    await maria?.destroy();
  });

  const t = useTestApp(() => ({ tdb, env: { RATE_LIMIT_MAX: '10000000' } }));
  let base: string;
  let user: TestUser;
  let directoryId: number;

  beforeAll(async () => {
    base = await t.listen();
    user = await t.newUser();
    const [home] = await user.caller.directory.list();
    directoryId = home!.id;
  });

  const stockIn = (requestId: string) =>
    call(base, 'mutation', 'goods.stockIn', { directoryId, code: 'OUTAGE-1', quantity: 1, requestId }, sessionHeaders(user.token));

  it('fails fast while down, recovers without an app restart, and neither loses nor doubles a stock change', async () => {
    const acked = new Set<string>();
    const unknown = new Set<string>();
    const failures: { code: string; ms: number; whileDown: boolean }[] = [];
    let seq = 0;
    let down = false;
    let stop = false;

    const worker = async (w: number) => {
      while (!stop) {
        const requestId = `w${w}-${seq++}`;
        const res = await stockIn(requestId);
        if (res.status === 200) {
          acked.add(requestId);
        } else {
          failures.push({ code: trpcError(res).data.code, ms: res.ms, whileDown: down });
          unknown.add(requestId);
        }
        if (down) await sleep(20);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);

    while (acked.size < 30) await sleep(10);
    await maria.kill();
    down = true;
    const killedWith = acked.size;

    await sleep(300);
    const health = await send(`${base}/healthz`);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ ok: false });
    expect(health.ms).toBeLessThan(FAIL_FAST_MS);
    await sleep(1200);
    stop = true;
    await Promise.all(workers);

    // While down: clean, fast refusals only, and nothing acknowledged.
    const whileDown = failures.filter((f) => f.whileDown);
    expect(whileDown.length).toBeGreaterThan(10);
    expect(acked.size - killedWith).toBeLessThanOrEqual(4); // at most the calls already committing
    for (const f of failures) {
      // An unreachable database is a passing state: the code tells clients to retry.
      expect(f.code).toBe('SERVICE_UNAVAILABLE');
      expect(f.ms).toBeLessThan(FAIL_FAST_MS);
    }
    // The failures were logged with the request they belong to.
    const errorLines = t.logLines.map((l) => JSON.parse(l) as { level: number; reqId?: string }).filter((l) => l.level >= 50);
    expect(errorLines.length).toBeGreaterThan(0);
    for (const line of errorLines) expect(line.reqId).toBeTruthy();

    // Back up, same datadir and port: the same app recovers on its own.
    await maria.start();
    const deadline = Date.now() + 15_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      healthy = (await send(`${base}/healthz`)).status === 200;
      if (!healthy) await sleep(100);
    }
    expect(healthy).toBe(true);

    // A client that never learned the outcome retries with the same requestId: exactly once.
    for (const requestId of unknown) {
      const res = await stockIn(requestId);
      expect(res.status, res.text).toBe(200);
      acked.add(requestId);
    }
    // Every acknowledged call replays as acknowledged, with no second increment.
    const replayed = await stockIn([...acked][0]!);
    expect(replayed.status).toBe(200);
    for (let i = 0; i < 10; i++) {
      const requestId = `after-${i}`;
      expect((await stockIn(requestId)).status).toBe(200);
      acked.add(requestId);
    }

    const scanned = trpcData<{ quantity: number } | null>(
      await call(base, 'query', 'goods.scan', { directoryId, code: 'OUTAGE-1' }, sessionHeaders(user.token)),
    );
    expect(scanned?.quantity).toBe(acked.size);
    const logs = await t.db('logs').where({ user_id: user.userId, type: 'stock.in' }).count<{ n: number }[]>({ n: '*' });
    expect(Number(logs[0]?.n)).toBe(acked.size);
    const recorded = (await t.db('request_results').where({ user_id: user.userId }).pluck('request_id')) as string[];
    expect(new Set(recorded)).toEqual(acked);
  }, 90_000);
});
