import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, testDbKind, type TestDb } from '../helpers/db';
import { runServerOnce, startServerProcess } from '../helpers/process';

describe('the server process (npm start)', () => {
  let tdb: TestDb | undefined;
  let cwd: string;
  beforeAll(async () => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'scancode-start-'));
    if (testDbKind() === 'mysql') tdb = await createTestDb({ migrate: false });
  });
  afterAll(async () => {
    await tdb?.destroy();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('migrates, serves /healthz = 200 and exits 0 on SIGTERM', async () => {
    // No DATABASE_URL on SQLite: the default file ./data/scancode.sqlite3 under the working directory.
    const env: Record<string, string> = tdb?.url ? { DATABASE_URL: tdb.url } : {};
    const server = await startServerProcess(env, cwd);
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      if (!tdb) expect(existsSync(path.join(cwd, 'data/scancode.sqlite3'))).toBe(true);
      expect(server.output()).toContain('DEVELOPMENT LOGIN');
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
    if (tdb) expect((await tdb.db('knex_migrations').select('name')).map((r) => r.name)).toContain('20261124000000_initial_schema.ts');
  });

  it('refuses a bad configuration with a clear message', async () => {
    const bad = await runServerOnce({ PORT: 'eighty' }, cwd).done;
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/PORT/);

    const prod = await runServerOnce({ NODE_ENV: 'production' }, cwd).done;
    expect(prod.code).toBe(1);
    expect(prod.output).toMatch(/WECHAT_APPID and WECHAT_SECRET are required/);
  });
});
