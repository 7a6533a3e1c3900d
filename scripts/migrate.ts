/**
 * `npm run migrate`: applies pending migrations to the configured database (DATABASE_URL, or the
 * SQLite file) and exits, for deployments that migrate as a step of their own before starting the
 * nodes. The server also migrates when it starts; both take the same lock (src/db/migrate.ts), so
 * running this while nodes start is safe.
 */
import { loadConfigOrExit } from '../src/config';
import { createDb } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrate';

const log = {
  info: (obj: object, msg: string) => console.log(msg, JSON.stringify(obj)),
  warn: (obj: object, msg: string) => console.warn(msg, JSON.stringify(obj)),
};

async function main(): Promise<number> {
  const config = loadConfigOrExit();
  const db = createDb({ url: config.database.url, sqliteFile: config.database.sqliteFile, poolMax: 2 });
  try {
    const applied = await migrateLatest(db, { log });
    console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'the database is up to date');
    return 0;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('migration failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
