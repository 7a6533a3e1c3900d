import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { createDb } from '../../src/db/knex';
import { buildServer } from '../../src/server';
import { useTestApp } from '../helpers/app';

describe('GET /healthz', () => {
  const t = useTestApp();

  it('is 200 { ok: true } when the database answers', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('is 503 when the database does not answer, and says why in the structured log', async () => {
    const lines: string[] = [];
    const logStream = { write: (line: string) => lines.push(line) };
    // Nothing listens on port 1: every MySQL connection attempt is refused. A destroyed SQLite
    // pool can hand out no connection either.
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: t.kind === 'mysql' ? 'mysql://root@127.0.0.1:1/nothing' : '' });
    const sqliteDb = t.kind === 'sqlite' ? createDb({ sqliteFile: t.tdb.sqliteFile }) : undefined;
    if (sqliteDb) await sqliteDb.destroy();
    const app = await buildServer(config, { db: sqliteDb, logStream });
    try {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ ok: false });
      const warnings = lines.map((l) => JSON.parse(l) as { msg: string; component?: string; reqId?: string });
      expect(warnings.some((w) => w.msg === 'health check: database did not answer' && w.reqId)).toBe(true);
      // knex's own complaint goes through the app's logger, not straight to the console.
      if (t.kind === 'mysql') expect(warnings.some((w) => w.component === 'knex' && /ECONNREFUSED/.test(w.msg))).toBe(true);
    } finally {
      await app.close();
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
