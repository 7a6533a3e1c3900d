import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { buildServer } from '../../src/server';
import { createTestApp, type TestApp } from '../helpers/app';

describe('GET /healthz', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('is 200 { ok: true } when the database answers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('is 503 when the database does not answer', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
    // Nothing listens on port 1: every connection attempt is refused.
    const db = t.kind === 'mysql' ? createDb({ url: 'mysql://root@127.0.0.1:1/nothing' }) : createDb({ sqliteFile: t.tdb.sqliteFile });
    if (t.kind === 'sqlite') await db.destroy(); // a destroyed pool can give no connection
    const app = await buildServer(config, { db });
    try {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ ok: false });
    } finally {
      await app.close();
      if (t.kind === 'mysql') await db.destroy();
    }
  });

  it('caps the batch size and answers unknown procedures with NOT_FOUND', async () => {
    const paths = Array.from({ length: t.config.maxBatchSize + 1 }, () => 'auth.me').join(',');
    const res = await t.app.inject({ method: 'GET', url: `/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}` });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Batch call exceeds maximum size');

    const missing = await t.app.inject({ method: 'GET', url: '/trpc/nope.nothing' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.json.data.code).toBe('NOT_FOUND');
  });
});
