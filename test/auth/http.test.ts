import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../../src/routers/_app';
import { useTestApp } from '../helpers/app';
import { encryptUserData, startFakeWechat, userInfoPayload, type FakeWechat } from '../helpers/fake-wechat';

interface Exchange {
  url: string;
  status: number;
  body: string;
}

/** A stock client as the mini-program would use it, recording every response body it receives. */
function makeClient(baseUrl: string, opts: { token?: () => string | null; batch?: boolean; exchanges?: Exchange[] } = {}) {
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit) => {
    const res = await fetch(input, init);
    const body = await res.clone().text();
    opts.exchanges?.push({ url: String(input), status: res.status, body });
    return res;
  };
  const linkOptions = {
    url: `${baseUrl}/trpc`,
    transformer: superjson,
    fetch: recordingFetch,
    headers: () => {
      const token = opts.token?.();
      return token ? { 'X-Session-Token': token } : {};
    },
  };
  return createTRPCClient<AppRouter>({
    links: [opts.batch === false ? httpLink(linkOptions) : httpBatchLink(linkOptions)],
  });
}

async function clientError(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    return err as TRPCClientError<AppRouter>;
  }
  throw new Error('expected the call to fail');
}

describe('auth over real HTTP with @trpc/client + superjson', () => {
  let wx: FakeWechat;
  const t = useTestApp(async (onClose) => {
    wx = await startFakeWechat();
    onClose(() => wx.close());
    return { wechat: wx };
  });
  let baseUrl: string;
  beforeAll(async () => {
    baseUrl = await t.listen();
  });

  it('login → me → updateProfile → logout → me is UNAUTHORIZED', async () => {
    let token: string | null = null;
    const client = makeClient(baseUrl, { token: () => token });

    const issued = wx.issueCode({ unionid: 'oUnion-http' });
    const res = await client.auth.login.mutate({ code: issued.code });
    expect(res.expiresAt).toBeInstanceOf(Date);
    expect(res.user.createdAt).toBeInstanceOf(Date);
    expect(res.isNew).toBe(true);
    token = res.token;

    expect(await client.auth.me.query()).toEqual(res.user);
    const updated = await client.auth.updateProfile.mutate({ nickname: '  店长 ', gender: 1 });
    expect(updated).toEqual({ ...res.user, nickname: '店长', gender: 1 });
    expect(await client.auth.me.query()).toEqual(updated);

    expect(await client.auth.logout.mutate()).toEqual({ ok: true });
    const err = await clientError(client.auth.me.query());
    expect(err.data?.code).toBe('UNAUTHORIZED');
    expect(err.data?.httpStatus).toBe(401);
    expect(err.message).toMatch(/logged out/);
  });

  it('without the header every protected call is UNAUTHORIZED (401); the token is not read from the query string', async () => {
    const client = makeClient(baseUrl, { batch: false });
    const err = await clientError(client.auth.me.query());
    expect(err.data?.code).toBe('UNAUTHORIZED');
    expect(err.data?.httpStatus).toBe(401);

    const { token } = await t.caller().auth.login({ code: wx.issueCode().code });
    const viaQuery = await t.app.inject({ method: 'GET', url: `/trpc/auth.me?token=${token}&x-session-token=${token}` });
    expect(viaQuery.statusCode).toBe(401);
    const viaCookie = await t.app.inject({ method: 'GET', url: '/trpc/auth.me', headers: { cookie: `x-session-token=${token}` } });
    expect(viaCookie.statusCode).toBe(401);
    const viaHeader = await t.app.inject({ method: 'GET', url: '/trpc/auth.me', headers: { 'x-session-token': token } });
    expect(viaHeader.statusCode).toBe(200);
  });

  it('maps WeChat refusals to tRPC codes and HTTP statuses a client can act on', async () => {
    const client = makeClient(baseUrl, { batch: false });
    const unknown = await clientError(client.auth.login.mutate({ code: 'never-issued' }));
    expect([unknown.data?.code, unknown.data?.httpStatus]).toEqual(['UNAUTHORIZED', 401]);
    wx.script('busy-http', { errcode: -1 });
    const busy = await clientError(client.auth.login.mutate({ code: 'busy-http' }));
    expect([busy.data?.code, busy.data?.httpStatus]).toEqual(['BAD_GATEWAY', 502]);
    wx.script('risky-http', { errcode: 40226 });
    const risky = await clientError(client.auth.login.mutate({ code: 'risky-http' }));
    expect([risky.data?.code, risky.data?.httpStatus]).toEqual(['FORBIDDEN', 403]);
  });

  it('bad input comes back as BAD_REQUEST with data.zodError naming the fields', async () => {
    const { token } = await t.caller().auth.login({ code: wx.issueCode().code });
    const client = makeClient(baseUrl, { token: () => token });
    const err = await clientError(client.auth.updateProfile.mutate({ nickname: 'x'.repeat(101), avatarUrl: 'nope' }));
    expect(err.data?.code).toBe('BAD_REQUEST');
    expect(Object.keys(err.data?.zodError?.fieldErrors ?? {}).sort()).toEqual(['avatarUrl', 'nickname']);
  });

  it('several devices: logging out one leaves the other logged in', async () => {
    const openid = 'oTwoDevices';
    let phoneToken: string | null = null;
    let padToken: string | null = null;
    const phone = makeClient(baseUrl, { token: () => phoneToken });
    const pad = makeClient(baseUrl, { token: () => padToken });
    const a = await phone.auth.login.mutate({ code: wx.issueCode({ openid }).code });
    const b = await pad.auth.login.mutate({ code: wx.issueCode({ openid }).code });
    phoneToken = a.token;
    padToken = b.token;
    expect(b.user.id).toBe(a.user.id);
    expect(b.isNew).toBe(false);

    await phone.auth.logout.mutate();
    expect((await clientError(phone.auth.me.query())).data?.code).toBe('UNAUTHORIZED');
    expect((await pad.auth.me.query()).id).toBe(a.user.id);
  });

  it('no response body or log line carries the session_key or the raw token', async () => {
    const exchanges: Exchange[] = [];
    let token: string | null = null;
    const client = makeClient(baseUrl, { token: () => token, exchanges });
    const issued = wx.issueCode();
    const enc = encryptUserData(issued.sessionKey, userInfoPayload(wx.appId, issued.openid));
    const logStart = t.logLines.length;

    const res = await client.auth.login.mutate({ code: issued.code, ...enc });
    token = res.token;
    expect(res.user.nickname).toBe('小明');
    await client.auth.me.query();
    await client.auth.updateProfile.mutate({ city: 'Xi’an' });
    // A batched pair and a failing call too.
    await Promise.all([client.auth.me.query(), client.auth.me.query()]);
    await clientError(client.auth.updateProfile.mutate({ gender: 7 as 0 }));
    await client.auth.logout.mutate();
    await clientError(client.auth.me.query());

    expect(exchanges.length).toBeGreaterThanOrEqual(7);
    const [loginExchange, ...rest] = exchanges;
    // The login answer is the one place the token appears.
    expect(loginExchange!.body).toContain(res.token);
    for (const ex of exchanges) expect(ex.body).not.toContain(issued.sessionKey);
    for (const ex of rest) expect(ex.body).not.toContain(res.token);

    const lines = t.logLines.slice(logStart);
    // The requests were logged (so the scan below looked at something real).
    expect(lines.some((l) => l.includes('/trpc/auth.login'))).toBe(true);
    expect(lines.some((l) => l.includes('user logged in'))).toBe(true);
    for (const line of t.logLines) {
      expect(line).not.toContain(res.token);
      expect(line).not.toContain(issued.sessionKey);
      expect(line).not.toContain(wx.secret);
      expect(line).not.toContain(issued.code);
    }
  });
});

describe('login rate limit per address', () => {
  // Development login: the limit sits in front of the procedure, whatever the login mode.
  const t = useTestApp({ env: { LOGIN_RATE_LIMIT_MAX: '3', LOGIN_RATE_LIMIT_WINDOW_MS: '60000' } });
  let baseUrl: string;
  beforeAll(async () => {
    baseUrl = await t.listen();
  });

  it('answers TOO_MANY_REQUESTS (429) that a stock client decodes, batched or not; other calls go on', async () => {
    const single = makeClient(baseUrl, { batch: false });
    for (let i = 0; i < 3; i++) await single.auth.login.mutate({ code: `rl-${i}` });
    const usersBefore = Number(((await t.db('users').count({ n: '*' }).first()) as { n: number }).n);

    const err = await clientError(single.auth.login.mutate({ code: 'rl-over' }));
    expect(err.data?.code).toBe('TOO_MANY_REQUESTS');
    expect(err.data?.httpStatus).toBe(429);
    expect(err.message).toMatch(/Too many login attempts/);

    // A batch holding a login: one envelope per call, each decoded as TRPCClientError.
    const { token } = await t.caller().auth.login({ code: 'rl-has-session' });
    const batched = makeClient(baseUrl, { token: () => token });
    // Mutations batch together (queries go in their own batch): two logins, one POST.
    const [first, second] = await Promise.all([
      clientError(batched.auth.login.mutate({ code: 'rl-batched-1' })),
      clientError(batched.auth.login.mutate({ code: 'rl-batched-2' })),
    ]);
    for (const e of [first, second]) {
      expect(e.data?.code).toBe('TOO_MANY_REQUESTS');
      expect(e.data?.httpStatus).toBe(429);
      expect(e.data?.path).toBe('auth.login');
    }

    // Calls other than auth.login are not limited.
    expect((await batched.auth.me.query()).nickname).toBeNull();
    expect((await makeClient(baseUrl, { token: () => token, batch: false }).auth.me.query()).nickname).toBeNull();

    const raw = await t.app.inject({ method: 'POST', url: '/trpc/auth.login', payload: { json: { code: 'rl-raw' } } });
    expect(raw.statusCode).toBe(429);
    expect(Number(raw.headers['retry-after'])).toBeGreaterThan(0);
    expect(raw.json()).toMatchObject({ error: { json: { data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429 } } } });
    expect(JSON.stringify(raw.json())).not.toContain('stack');

    const encodedBatch = await t.app.inject({ method: 'POST', url: '/trpc/auth.me%2Cauth.login?batch=1', payload: {} });
    expect(encodedBatch.statusCode).toBe(429);
    expect(encodedBatch.json()).toHaveLength(2);

    const usersAfter = Number(((await t.db('users').count({ n: '*' }).first()) as { n: number }).n);
    expect(usersAfter).toBe(usersBefore + 1); // only rl-has-session, made by the server-side caller
  });

  it('another address has its own allowance', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/trpc/auth.login',
      payload: { json: { code: 'rl-other-ip' } },
      remoteAddress: '10.1.2.3',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().result.data.json.user.id).toEqual(expect.any(Number));
  });
});
