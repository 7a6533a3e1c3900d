import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
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
  /** Pool size of the database created for the app (default 10); not used with `tdb`. */
  poolMax?: number;
  /** The server's clock before advanceClock (default: the real time). */
  clock?: () => Date;
  /** Which tRPC transport the server uses (default: the server's own choice). */
  trpcTransport?: TrpcTransport;
}

export async function createTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const tdb = opts.tdb ?? (await createTestDb({ poolMax: opts.poolMax }));
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

/** Every member of TestApp: the compiler refuses this list when TestApp gains or loses one. */
const TEST_APP_MEMBERS = {
  tdb: true,
  db: true,
  kind: true,
  config: true,
  app: true,
  logLines: true,
  advanceClock: true,
  now: true,
  caller: true,
  newUser: true,
  listen: true,
  close: true,
} as const satisfies Record<keyof TestApp, true>;

/** Registers cleanup for something the setup made; see useTestApp. */
export type OnClose = (cleanup: () => unknown) => void;
/** Options computed when the app is created, from resources the setup may make (and register for cleanup). */
export type TestAppSetup = (onClose: OnClose) => TestAppOptions | Promise<TestAppOptions>;

/**
 * One test app for the enclosing describe block (or file): created in a beforeAll, closed in an
 * afterAll, both registered here. Call it where you would call beforeAll, and use what it returns
 * like the app itself inside tests and later hooks:
 *
 *   const t = useTestApp({ env: { RATE_LIMIT_MAX: '100000' } });
 *   it('…', async () => { const u = await t.newUser(); … t.app.inject(…) … });
 *
 * Options that need something made first (a fake WeChat, a database) come from a setup function,
 * run in the same beforeAll just before the app is created. What it registers with `onClose` is
 * cleaned up after the app has closed, last registered first, also when creating the app failed:
 *
 *   let wx: FakeWechat;
 *   const t = useTestApp(async (onClose) => {
 *     wx = await startFakeWechat();
 *     onClose(() => wx.close());
 *     return { wechat: wx };
 *   });
 *
 * Options may also read what an earlier beforeAll of the same or an outer block made: Vitest runs
 * beforeAll hooks in the order they are registered and afterAll hooks in reverse (sequence.hooks
 * 'stack', the default), so the app closes before that is torn down. Reading a member of the
 * handle while there is no app (at collection time, in a hook registered before this call, or
 * after the afterAll) throws.
 */
export function useTestApp(opts: TestAppOptions | TestAppSetup = {}): TestApp {
  let current: TestApp | undefined;
  const cleanups: Array<() => unknown> = [];
  beforeAll(async () => {
    const resolved = typeof opts === 'function' ? await opts((cleanup) => void cleanups.push(cleanup)) : opts;
    current = await createTestApp(resolved);
  });
  afterAll(async () => {
    const t = current;
    current = undefined;
    let failure: unknown;
    for (const step of [() => t?.close(), ...cleanups.splice(0).reverse()]) {
      try {
        await step();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  });
  const handle = {} as TestApp;
  for (const key of Object.keys(TEST_APP_MEMBERS) as Array<keyof TestApp>) {
    Object.defineProperty(handle, key, {
      enumerable: true,
      get() {
        if (!current) throw new Error(`useTestApp: t.${key} was read while there is no app (before its beforeAll or after its afterAll)`);
        return current[key];
      },
    });
  }
  return handle;
}
