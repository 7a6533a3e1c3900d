import { isDevLogin, loadConfigOrExit } from './config';
import { migrateLatest } from './db/migrate';
import { buildServer } from './server';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await buildServer(config);
  if (isDevLogin(config)) {
    app.log.warn(
      'WECHAT_APPID/WECHAT_SECRET are not set: DEVELOPMENT LOGIN is on, any code logs in as dev-<code>. Never run like this in production.',
    );
  }
  // Several nodes may start at once on one database: migrateLatest lets one migrate, the others wait.
  const applied = await migrateLatest(app.db, { log: app.log });
  if (applied.length > 0) app.log.info({ migrations: applied }, 'database migrated');
  app.log.info({ database: config.database.url ? 'mysql' : `sqlite:${config.database.sqliteFile}` }, 'database ready');

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: no new requests, finishing the ones in flight');
    const timer = setTimeout(() => {
      app.log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await app.listen({ port: config.port, host: config.host });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
