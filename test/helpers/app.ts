import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createSession } from '../../src/auth/sessions';
import { insertUserWithDefaultDirectory } from '../../src/auth/users';
import { loadConfig, type Config } from '../../src/config';
import type { TrpcTransport } from '../../src/http/trpc-transport';
import { appRouter } from '../../src/routers/_app';
import { buildServer } from '../../src/server';
import { createCallerFactory, createInnerContext } from '../../src/trpc';
import { createTestDb, type TestDb } from './db';
import type { FakeWechat } from './fake-wechat';

export const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;

export interface TestUser {
  userId: number;
  token: string;
  caller: Caller;
}

export interface TestApp {
  tdb: TestDb;
  db: TestDb['db'];
  kind: TestDb['kind'];
  config: Config;
  app: FastifyInstance;
  /** Every log line the server wrote, as JSON text. */
  logLines: string[];
  /** Moves the server's clock (sessions, timestamps) forward without sleeping. */
  advanceClock(ms: number): void;
  now(): Date;
  /** A typed server-side caller, with the given session token (or none). */
  caller(token?: string | null): Caller;
  /** A fresh user (with the `默认` directory) and a live session for them. */
  newUser(): Promise<TestUser>;
  /** Listens on an ephemeral loopback port; returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Extra environment for loadConfig (strings, as in process.env). */
  env?: Record<string, string>;
  /** Point login at this fake WeChat (sets WECHAT_APPID/SECRET/API_BASE). */
  wechat?: FakeWechat;
  /** Use this database instead of creating one (the caller destroys it). */
  tdb?: TestDb;
  /** The server's clock before advanceClock (default: the real time). */
  clock?: () => Date;
  /** Which tRPC transport the server uses (default: the server's own choice). */
  trpcTransport?: TrpcTransport;
}

export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const tdb = opts.tdb ?? (await createTestDb());
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    ...(tdb.url ? { DATABASE_URL: tdb.url } : { SQLITE_FILE: tdb.sqliteFile ?? ':memory:' }),
    ...(opts.wechat ? { WECHAT_APPID: opts.wechat.appId, WECHAT_SECRET: opts.wechat.secret, WECHAT_API_BASE: opts.wechat.url } : {}),
    ...opts.env,
  };
  const config = loadConfig(env);
  let offsetMs = 0;
  const clock = opts.clock ?? (() => new Date());
  const now = () => new Date(clock().getTime() + offsetMs);
  const logLines: string[] = [];
  const app = await buildServer(config, {
    db: tdb.db,
    now,
    logStream: { write: (line) => logLines.push(line) },
    trpcTransport: opts.trpcTransport,
  });
  await app.ready();

  const caller = (token?: string | null) =>
    createCaller(createInnerContext({ db: tdb.db, config, log: app.log, now }, { sessionToken: token ?? null }));

  return {
    tdb,
    db: tdb.db,
    kind: tdb.kind,
    config,
    app,
    logLines,
    advanceClock(ms) {
      offsetMs += ms;
    },
    now,
    caller,
    async newUser() {
      const at = now();
      const userId = await tdb.db.transaction((trx) =>
        insertUserWithDefaultDirectory(trx, { openid: `test-${randomBytes(9).toString('base64url')}` }, at),
      );
      const { token } = await createSession(tdb.db, userId, config.sessionTtlDays, at);
      return { userId, token, caller: caller(token) };
    },
    async listen() {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return `http://127.0.0.1:${port}`;
    },
    async close() {
      await app.close();
      if (!opts.tdb) await tdb.destroy();
    },
  };
}
