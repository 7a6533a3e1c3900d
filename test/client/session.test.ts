import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app';
import { startFakeWechat, type FakeWechat } from '../helpers/fake-wechat';
import { startPhoneLab, type PhoneLab, type PhoneOptions, newPhone, postedInputs, rejection } from './phone';
import { procedurePaths } from './wx-shim';

const DAY_MS = 24 * 60 * 60 * 1000;

/* Session handling of the built bundle: automatic login, one shared re-login, failed logins. */
describe('mini-program client sessions (built bundle)', () => {
  let lab: PhoneLab;
  let fake: FakeWechat;
  let t: TestApp;

  beforeAll(async () => {
    lab = await startPhoneLab();
    ({ fake, t } = lab);
  });
  afterAll(async () => {
    await lab?.close();
  });

  const phone = (opts: Partial<PhoneOptions> = {}) => lab.phone(opts);

  it('five parallel first calls share one login', async () => {
    const { shim, client, token } = await phone({ client: { maxBatchSize: 1 } });
    const results = await Promise.all([
      client.auth.me.query(),
      client.directory.list.query(),
      client.log.list.query(),
      client.auth.me.query(),
      client.directory.list.query(),
    ]);
    expect(shim.logins).toBe(1);
    expect(shim.requestsFor('auth.login')).toHaveLength(1);
    expect(results[0]).toEqual(results[3]);
    expect(shim.requests.slice(1).every((r) => r.header['X-Session-Token'] === token())).toBe(true);
  });

  for (const batching of [true, false]) {
    it(`recovers from a revoked token with exactly one re-login shared by five parallel calls (${batching ? 'one batch' : 'five requests'})`, async () => {
      const { shim, client, token } = await phone({ client: { maxBatchSize: batching ? 10 : 1 } });
      const [dir] = await client.directory.list.query();
      const oldToken = token()!;
      await t.caller(oldToken).auth.logout();
      const loginsBefore = shim.logins;
      const fakeCallsBefore = fake.calls.length;
      const requestsBefore = shim.requests.length;

      const [me, dirs, scan, logs, stocked] = await Promise.all([
        client.auth.me.query(),
        client.directory.list.query(),
        client.goods.scan.query({ directoryId: dir!.id, code: 'R-1' }),
        client.log.list.query(),
        client.goods.stockIn.mutate({ directoryId: dir!.id, code: 'R-1' }),
      ]);

      expect(shim.logins - loginsBefore).toBe(1);
      expect(fake.calls.length - fakeCallsBefore).toBe(1);
      expect(token()).not.toBe(oldToken);
      expect(me.id).toBeGreaterThan(0);
      expect(dirs[0]!.id).toBe(dir!.id);
      expect(scan).toBeNull();
      expect(logs.items.length).toBeGreaterThan(0);
      expect(stocked.goods.quantity).toBe(1);

      // The stock-in went out twice (refused, then after the login) with one requestId.
      const stockIns = shim.requests.slice(requestsBefore).filter((r) => procedurePaths(r.url).includes('goods.stockIn'));
      expect(stockIns).toHaveLength(2);
      expect(stockIns[0]!.statusCode).toBe(401);
      expect(stockIns[0]!.header['X-Session-Token']).toBe(oldToken);
      expect(stockIns[1]!.header['X-Session-Token']).toBe(token());
      const ids = stockIns.map((r) => postedInputs(r.body)[procedurePaths(r.url).indexOf('goods.stockIn')]!.requestId);
      expect(ids[1]).toBe(ids[0]);
    });
  }

  it('retries a 401 that arrives after the shared re-login finished, without logging in again', async () => {
    const { shim, client, token } = await phone({ client: { maxBatchSize: 1 } });
    await client.auth.me.query();
    const oldToken = token()!;
    await t.caller(oldToken).auth.logout();
    // The last call is slow on the way out: its 401 comes back after the others' login is done.
    shim.setLatency((r) => (procedurePaths(r.url).includes('log.list') && r.header['X-Session-Token'] === oldToken ? 800 : 0));

    const [me, logs] = await Promise.all([client.auth.me.query(), client.log.list.query()]);

    expect(me.id).toBeGreaterThan(0);
    expect(logs.items.length).toBeGreaterThan(0);
    expect(shim.logins).toBe(2);
    const logCalls = shim.requestsFor('log.list');
    expect(logCalls.map((r) => [r.statusCode, r.header['X-Session-Token'] === oldToken])).toEqual([
      [401, true],
      [200, false],
    ]);
    // Sent with the old token before the login, answered after it.
    const login = shim.requestsFor('auth.login')[1]!;
    expect(shim.requests.indexOf(login)).toBeLessThan(shim.requests.indexOf(logCalls[1]!));
  });

  it('surfaces UNAUTHORIZED without looping when the call still fails after logging in again', async () => {
    let spoil = () => {};
    const { shim, client, lib } = await phone({ client: { onLogin: () => spoil() } });
    // Whatever the login stored is replaced by a token the server does not know.
    spoil = () => shim.storage.set(lib.DEFAULT_TOKEN_KEY, 'x'.repeat(43));
    const err = await rejection(client.auth.me.query());
    expect(err.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, path: 'auth.me' });
    expect(shim.logins).toBe(1);
    expect(shim.requests.map((r) => procedurePaths(r.url))).toEqual([['auth.login'], ['auth.me']]);
  });

  it('forgets the token at logout and logs in again on the next call', async () => {
    const { shim, client, lib } = await phone();
    await client.auth.me.query();
    // A client that logs out forgets its token; the next call logs in again by itself.
    await client.auth.logout.mutate();
    expect(shim.storage.has(lib.DEFAULT_TOKEN_KEY)).toBe(false);
    const me = await client.auth.me.query();
    expect(me.id).toBeGreaterThan(0);
    expect(shim.logins).toBe(2);

    // A logout that finds the session already gone also forgets it, and never logs in first.
    await t.caller(shim.storage.get(lib.DEFAULT_TOKEN_KEY) as string).auth.logout();
    const gone = await rejection(client.auth.logout.mutate());
    expect(gone.data).toMatchObject({ code: 'UNAUTHORIZED', path: 'auth.logout' });
    expect(shim.storage.has(lib.DEFAULT_TOKEN_KEY)).toBe(false);
    expect(shim.logins).toBe(2);
    const requests = shim.requests.length;
    await client.auth.me.query();
    // No token: straight to the login, no 401 round trip first.
    expect(shim.requests.slice(requests).map((r) => procedurePaths(r.url))).toEqual([['auth.login'], ['auth.me']]);
  });

  it('a failed login is the error of every call waiting for it, and the next call tries again', async () => {
    let code = 'not-a-code-wechat-issued';
    const { shim, client } = await phone({ loginCode: () => code });

    const results = await Promise.allSettled([client.auth.me.query(), client.directory.list.query(), client.log.list.query()]);
    expect(shim.logins).toBe(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, path: 'auth.login' });
    }
    // Only the login went out: nothing was sent without a session.
    expect(shim.requests.map((r) => procedurePaths(r.url))).toEqual([['auth.login']]);

    code = fake.issueCode().code;
    expect((await client.auth.me.query()).id).toBeGreaterThan(0);
    expect(shim.logins).toBe(2);
  });

  it('reports a failing wx.login', async () => {
    const { client, lib } = await phone({
      loginCode: () => {
        throw new Error('system busy');
      },
    });
    const err = await rejection(client.auth.me.query());
    expect(err).toBeInstanceOf(lib.TRPCClientError);
    expect(err.message).toContain('wx.login failed');
    expect(err.message).toContain('system busy');
  });

  const wechatRefusals = [
    { errcode: 40163, code: 'UNAUTHORIZED', httpStatus: 401 },
    { errcode: 45011, code: 'TOO_MANY_REQUESTS', httpStatus: 429 },
    { errcode: 40226, code: 'FORBIDDEN', httpStatus: 403 },
    { errcode: -1, code: 'BAD_GATEWAY', httpStatus: 502 },
  ] as const;
  for (const refusal of wechatRefusals) {
    it(`delivers WeChat's ${refusal.errcode} at login as ${refusal.code}`, async () => {
      const scripted = `scripted-${refusal.errcode}-${Math.random().toString(36).slice(2)}`;
      fake.script(scripted, { errcode: refusal.errcode });
      const { client, shim } = await phone({ loginCode: () => scripted });
      const err = await rejection(client.goods.scan.query({ directoryId: 1, code: 'x' }));
      expect(err.data).toMatchObject({ code: refusal.code, httpStatus: refusal.httpStatus });
      expect(shim.logins).toBe(1);
    });
  }

  it('recovers from an expired token (the server clock passes the TTL) with one login', async () => {
    const { shim, client, token } = await phone();
    const before = await client.auth.me.query();
    const oldToken = token();
    t.advanceClock((t.config.sessionTtlDays + 1) * DAY_MS);

    const results = await Promise.all(Array.from({ length: 5 }, () => client.auth.me.query()));
    expect(results.map((u) => u.id)).toEqual(Array(5).fill(before.id));
    expect(shim.logins).toBe(2);
    expect(token()).not.toBe(oldToken);
  });
});

describe('mini-program client against the login rate limit', () => {
  let fake: FakeWechat;
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    fake = await startFakeWechat();
    t = await createTestApp({ wechat: fake, env: { LOGIN_RATE_LIMIT_MAX: '2' } });
    url = `${await t.listen()}/trpc`;
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('delivers TOO_MANY_REQUESTS when logins from this address exceed the limit', async () => {
    for (let i = 0; i < 2; i++) {
      const ok = await newPhone({ url, loginCode: () => fake.issueCode().code });
      expect((await ok.client.auth.me.query()).id).toBeGreaterThan(0);
    }
    const limited = await newPhone({ url, loginCode: () => fake.issueCode().code });
    const err = await rejection(limited.client.auth.me.query());
    expect(err).toBeInstanceOf(limited.lib.TRPCClientError);
    expect(err.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
    expect(limited.shim.logins).toBe(1);
  });
});
