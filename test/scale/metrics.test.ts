import mysql from 'mysql2/promise';
import { beforeAll, describe, expect, it } from 'vitest';
import { mysqlConnectionFromUrl } from '../../src/db/knex';
import { inTransaction } from '../../src/db/tx';
import { useTestApp, type TestUser } from '../helpers/app';
import { call, sessionHeaders } from '../reliability/support/http';
import { sample } from '../helpers/metrics';

/*
 * METRICS_PORT: Prometheus text on a listener of its own (never the public port), with request
 * counts and latencies per tRPC procedure and code, the database pool, transaction retries,
 * rate-limit refusals and the process's own metrics.
 */

describe('metrics', () => {
  const t = useTestApp({ env: { METRICS_PORT: '0', LOGIN_RATE_LIMIT_MAX: '2' } });
  let base: string;
  let user: TestUser;
  let metricsUrl: string;

  beforeAll(async () => {
    base = await t.listen();
    user = await t.newUser();
    metricsUrl = `${t.app.metrics!.url()}/metrics`;
  });

  const scrape = async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return res.text();
  };

  it('listens on its own loopback port, not on the public one', async () => {
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(base).port);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
  });

  it('counts calls per procedure and code, with latencies, pool gauges and process metrics', async () => {
    const before = await scrape();
    const [home] = await user.caller.directory.list();
    const headers = sessionHeaders(user.token);
    for (let i = 0; i < 3; i++) {
      const res = await call(base, 'mutation', 'goods.stockIn', { directoryId: home!.id, code: 'MET-1' }, headers);
      expect(res.status).toBe(200);
    }
    expect((await call(base, 'mutation', 'goods.stockOut', { directoryId: home!.id, code: 'MET-1', quantity: 99 }, headers)).status).toBe(
      412,
    );
    expect((await call(base, 'query', 'auth.me', undefined, {})).status).toBe(401);
    // A batch: one call per path.
    const batch = await fetch(`${base}/trpc/auth.me,auth.me?batch=1`, { headers });
    expect(batch.status).toBe(200);
    // Login limit of 2: the third is refused before tRPC runs.
    for (const code of ['m1', 'm2', 'm3']) await call(base, 'mutation', 'auth.login', { code }, {});

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('scancode_trpc_requests_total', { procedure: 'goods.stockIn', code: 'OK', status: '200' })).toBe(3);
    expect(delta('scancode_trpc_requests_total', { procedure: 'goods.stockOut', code: 'PRECONDITION_FAILED', status: '412' })).toBe(1);
    expect(delta('scancode_trpc_requests_total', { procedure: 'auth.me', code: 'UNAUTHORIZED', status: '401' })).toBe(1);
    expect(delta('scancode_trpc_requests_total', { procedure: 'auth.me', code: 'OK', status: '200' })).toBe(2);
    expect(delta('scancode_trpc_requests_total', { procedure: 'auth.login', code: 'TOO_MANY_REQUESTS', status: '429' })).toBe(1);
    expect(delta('scancode_trpc_request_duration_seconds_count', { procedure: 'goods.stockIn', code: 'OK' })).toBe(3);
    expect(delta('scancode_rate_limit_refusals_total', { limit: 'login' })).toBe(1);
    expect(after).toMatch(/^scancode_db_pool_connections_in_use \d+/m);
    expect(after).toMatch(/^scancode_db_pool_acquires_pending \d+/m);
    expect(after).toContain('# TYPE scancode_db_transaction_retries_total counter');
    expect(after).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(after).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it.runIf(process.env.TEST_DB !== 'sqlite')('counts a transaction redone after its connection died before COMMIT', async () => {
    const target = mysqlConnectionFromUrl(t.tdb.url!);
    const admin = await mysql.createConnection({ host: target.host, port: target.port, user: target.user, password: target.password });
    const before = sample(await scrape(), 'scancode_db_transaction_retries_total', { reason: 'connection_lost' });
    let attempts = 0;
    try {
      const result = await inTransaction(t.db, async (tx) => {
        attempts++;
        const [[row]] = (await tx.raw('select connection_id() as id')) as unknown as [[{ id: number }]];
        // The first attempt's connection is killed under it, as a Galera node dying would.
        if (attempts === 1) {
          await admin.query('KILL ?', [Number(row.id)]);
          await tx.raw('select 1');
        }
        return 'done';
      });
      expect(result).toBe('done');
    } finally {
      await admin.end();
    }
    expect(attempts).toBe(2);
    expect(sample(await scrape(), 'scancode_db_transaction_retries_total', { reason: 'connection_lost' }) - before).toBe(1);
  });
});
