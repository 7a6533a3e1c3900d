import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { createTestDb, type TestDb } from '../helpers/db';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/redis';

/*
 * REDIS_URL: the global and the login limits are counted in Redis, shared by every node (two apps
 * on one database stand for two nodes). With Redis gone, requests are still answered at once: the
 * global limit lets them through, the login limit counts per node, and the log says so.
 */

const RATE_LIMIT_MAX = 6;
const LOGIN_MAX = 3;
/** Generous: an answer that waited on Redis takes a second or more; the bound only catches that. */
const FAST_MS = 500;

describe.skipIf(!redisServerAvailable())('rate limits shared through Redis', () => {
  let redis: PrivateRedis;
  let tdb: TestDb;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    tdb = await createTestDb();
    const env = {
      REDIS_URL: redis.url,
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      LOGIN_RATE_LIMIT_MAX: String(LOGIN_MAX),
      LOG_LEVEL: 'warn',
    };
    a = await createTestApp({ tdb, env });
    b = await createTestApp({ tdb, env });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await tdb?.destroy();
    await redis?.kill();
  });

  const me = (app: TestApp, ip: string) => app.app.inject({ method: 'GET', url: '/trpc/auth.me', remoteAddress: ip });
  const login = (app: TestApp, ip: string, code: string) =>
    app.app.inject({
      method: 'POST',
      url: '/trpc/auth.login',
      remoteAddress: ip,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ json: { code } }),
    });

  it('counts every node’s requests in one global limit', async () => {
    const ip = '10.16.0.1';
    const statuses: number[] = [];
    for (let i = 0; i < RATE_LIMIT_MAX; i++) statuses.push((await me(i % 2 ? b : a, ip)).statusCode);
    expect(statuses.every((s) => s === 401)).toBe(true);
    // Each node saw only half of them: the refusal proves the count is shared.
    const refused = await me(a, ip);
    expect(refused.statusCode).toBe(429);
    expect((await me(b, ip)).statusCode).toBe(429);
    // Another address has its own budget.
    expect((await me(b, '10.16.0.2')).statusCode).toBe(401);
  });

  it('counts every node’s logins in one login limit', async () => {
    const ip = '10.16.1.1';
    expect((await login(a, ip, 'shared-1')).statusCode).toBe(200);
    expect((await login(b, ip, 'shared-2')).statusCode).toBe(200);
    expect((await login(a, ip, 'shared-3')).statusCode).toBe(200);
    expect((await login(b, ip, 'shared-4')).statusCode).toBe(429);
  });

  it('with Redis killed: answers at once, the global limit fails open, the login limit counts per node', async () => {
    await redis.kill();
    const ip = '10.16.2.1';
    // More requests than the global limit allows, each answered quickly and none refused.
    for (let i = 0; i < RATE_LIMIT_MAX + 4; i++) {
      const started = performance.now();
      const res = await me(i % 2 ? b : a, ip);
      expect(performance.now() - started).toBeLessThan(FAST_MS);
      expect(res.statusCode).toBe(401);
    }
    expect(a.logLines.some((l) => l.includes('the global limit fails open'))).toBe(true);

    // Logins: node a counts on its own up to the limit, then refuses; node b still has its budget.
    const loginIp = '10.16.3.1';
    for (let i = 0; i < LOGIN_MAX; i++) {
      const started = performance.now();
      expect((await login(a, loginIp, `down-a-${i}`)).statusCode).toBe(200);
      expect(performance.now() - started).toBeLessThan(FAST_MS * 2);
    }
    expect((await login(a, loginIp, 'down-a-over')).statusCode).toBe(429);
    expect((await login(b, loginIp, 'down-b-0')).statusCode).toBe(200);
    expect(a.logLines.some((l) => l.includes('the login limit counts on this node only'))).toBe(true);
    // The URL (it could hold a password) never reaches the log.
    expect(a.logLines.join('\n')).not.toContain(redis.url);
  });

  it('shares the counts again once Redis is back', async () => {
    await redis.start();
    const ip = '10.16.4.1';
    // ioredis reconnects in the background (within a second): wait for a shared count to appear.
    const deadline = Date.now() + 10_000;
    let count = 0;
    for (;;) {
      const res = await me(a, ip);
      count++;
      if (res.statusCode === 429) break;
      if (Date.now() > deadline) throw new Error('the shared limit never came back');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(count).toBeGreaterThan(RATE_LIMIT_MAX);
    expect((await me(b, ip)).statusCode).toBe(429);
  });
});
