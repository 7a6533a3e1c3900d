import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, testDbKind, type TestDb } from '../helpers/db';
import { startServerProcess, type ServerProcess } from '../helpers/process';

/*
 * Several nodes starting together on an empty database: one migrates, the others wait for it
 * (src/db/migrate.ts), and all of them serve. Without the lock the second failed with
 * MigrationLocked (or 1050 on knex's own tables). SQLite is one process's file: MySQL only.
 */

describe.skipIf(testDbKind() !== 'mysql')('three server processes starting at once on one empty database', () => {
  let tdb: TestDb;
  let cwd: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    tdb = await createTestDb({ migrate: false });
    cwd = mkdtempSync(path.join(os.tmpdir(), 'scancode-multistart-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL').catch(() => undefined)));
    await tdb?.destroy();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('all come up, the migrations applied once', async () => {
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => startServerProcess({ DATABASE_URL: tdb.url!, LOG_LEVEL: 'info' }, cwd, 60_000)),
    );
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failures = started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
    expect(failures).toEqual([]);
    for (const server of servers) {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
    }
    const names = (await tdb.db('knex_migrations').select('name')).map((r: { name: string }) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('20261124000000_initial_schema.ts');
    // Exactly one of them reported applying the migrations.
    expect(servers.filter((s) => s.output().includes('database migrated'))).toHaveLength(1);
  });
});
