import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, useTestApp, type TestUser } from '../helpers/app';
import { startFakeWechat, type FakeWechat, type Scripted } from '../helpers/fake-wechat';
import { call, sessionHeaders, trpcData, trpcError, type WireResponse } from './support/http';

/*
 * WeChat down, slow or answering garbage: login fails with the mapped code within
 * WECHAT_TIMEOUT_MS, and nothing else slows down meanwhile — a hanging upstream must not hold
 * database connections or block the event loop.
 */

const TIMEOUT_MS = 2000;
/** Slack over the timeout for the refusal to travel back through our stack. */
const SLACK_MS = 1500;

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

describe('WeChat outage and slowness', () => {
  let wechat: FakeWechat;
  const t = useTestApp(async (onClose) => {
    wechat = await startFakeWechat();
    onClose(() => wechat.close());
    return { wechat, env: { WECHAT_TIMEOUT_MS: String(TIMEOUT_MS), RATE_LIMIT_MAX: '100000', LOGIN_RATE_LIMIT_MAX: '1000' } };
  });
  let base: string;
  let user: TestUser;
  let directoryId: number;

  beforeAll(async () => {
    base = await t.listen();
    user = await t.newUser();
    directoryId = (await user.caller.directory.list())[0]!.id;
  });

  const login = (code: string) => call(base, 'mutation', 'auth.login', { code });
  const users = async () => Number((await t.db('users').count<{ n: number }[]>({ n: '*' }))[0]?.n);

  it('a hanging WeChat: every login gets GATEWAY_TIMEOUT within the timeout, while other calls answer at full speed', async () => {
    const usersBefore = await users();
    const codes = Array.from({ length: 8 }, (_, i) => `hang-${i}`);
    for (const code of codes) wechat.script(code, { hang: true });

    let firstLoginDoneAt = Infinity;
    const logins = codes.map(async (code) => {
      const res = await login(code);
      firstLoginDoneAt = Math.min(firstLoginDoneAt, performance.now());
      return res;
    });

    // Meanwhile: a user keeps scanning. Every call succeeds, fast, while all 8 logins hang.
    const others: (WireResponse & { doneAt: number })[] = [];
    const headers = sessionHeaders(user.token);
    for (let i = 0; i < 25; i++) {
      const stocked = await call(base, 'mutation', 'goods.stockIn', { directoryId, code: 'DURING-HANG', requestId: `hang-${i}` }, headers);
      others.push({ ...stocked, doneAt: performance.now() });
      const listed = await call(base, 'query', 'directory.list', undefined, headers);
      others.push({ ...listed, doneAt: performance.now() });
    }
    for (const res of others) {
      expect(res.status, res.text).toBe(200);
      // Far below the login timeout: nothing waits for WeChat.
      expect(res.ms).toBeLessThan(TIMEOUT_MS / 2);
    }
    // They were answered while every login was still hanging (all of them, unless the machine is
    // very busy: the point is that none waited for WeChat).
    expect(others.filter((o) => o.doneAt < firstLoginDoneAt).length).toBeGreaterThanOrEqual(10);

    for (const res of await Promise.all(logins)) {
      expect(res.status).toBe(504);
      expect(trpcError(res).data.code).toBe('GATEWAY_TIMEOUT');
      expect(res.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(res.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    }
    const scanned = trpcData<{ quantity: number }>(
      await call(base, 'query', 'goods.scan', { directoryId, code: 'DURING-HANG' }, sessionHeaders(user.token)),
    );
    expect(scanned.quantity).toBe(25);
    expect(await users()).toBe(usersBefore);
  });

  it.each<[string, Scripted, number, string]>([
    // biome-ignore lint/suspicious/noThenProperty: the fake WeChat's answer after the delay (not a thenable)
    ['answers too slowly', { delayMs: TIMEOUT_MS * 3, then: { errcode: 0 } }, 504, 'GATEWAY_TIMEOUT'],
    ['answers HTTP 500', { status: 500 }, 502, 'BAD_GATEWAY'],
    ['answers HTTP 502 with an HTML page', { status: 502 }, 502, 'BAD_GATEWAY'],
    ['answers HTTP 200 with garbage', { status: 200, body: '<html>maintenance</html>' }, 502, 'BAD_GATEWAY'],
    ['is busy (errcode -1)', { errcode: -1, errmsg: 'system error' }, 502, 'BAD_GATEWAY'],
    ['rate-limits us (errcode 45011)', { errcode: 45011, errmsg: 'api minute-quota reach limit' }, 429, 'TOO_MANY_REQUESTS'],
  ])('WeChat %s: login fails with the mapped code in time and creates nothing', async (_what, behaviour, status, code) => {
    const usersBefore = await users();
    const scripted = `scripted-${code}-${status}-${Math.random().toString(36).slice(2)}`;
    wechat.script(scripted, behaviour);
    const res = await login(scripted);
    expect(res.status, res.text).toBe(status);
    expect(trpcError(res).data.code).toBe(code);
    expect(res.ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(await users()).toBe(usersBefore);
    // And the server is no worse for it.
    expect((await call(base, 'query', 'auth.me', undefined, sessionHeaders(user.token))).status).toBe(200);
  });

  it('WeChat unreachable (connection refused): BAD_GATEWAY at once', async () => {
    const port = await closedPort();
    const down = await createTestApp({
      tdb: t.tdb,
      env: {
        WECHAT_APPID: wechat.appId,
        WECHAT_SECRET: wechat.secret,
        WECHAT_API_BASE: `http://127.0.0.1:${port}`,
        WECHAT_TIMEOUT_MS: String(TIMEOUT_MS),
      },
    });
    try {
      const started = performance.now();
      const res = await down.app.inject({
        method: 'POST',
        url: '/trpc/auth.login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ json: { code: 'any-code' } }),
      });
      expect(res.statusCode).toBe(502);
      expect(res.json().error.json.data.code).toBe('BAD_GATEWAY');
      expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
      // The app secret never reaches a log line, even when WeChat fails.
      expect(down.logLines.join('\n')).not.toContain(wechat.secret);
    } finally {
      await down.close();
    }
  });

  it('never writes the app secret into a log line', () => {
    expect(t.logLines.length).toBeGreaterThan(0);
    expect(t.logLines.join('\n')).not.toContain(wechat.secret);
  });
});
