import { describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/sessions';
import { toDate } from '../../src/db/knex';
import { createTestApp, useTestApp, type TestApp } from '../helpers/app';
import { encryptUserData, startFakeWechat, userInfoPayload, type FakeWechat } from '../helpers/fake-wechat';

const TIMEOUT_MS = 300;

async function rowCounts(t: TestApp): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ['users', 'directories', 'sessions', 'logs']) {
    const row = (await t.db(table).count({ n: '*' }).first()) as { n: number | string };
    counts[table] = Number(row.n);
  }
  return counts;
}

describe('auth.login with WeChat (server-side callers, fake WeChat on loopback)', () => {
  let wx: FakeWechat;
  const t = useTestApp(async (onClose) => {
    wx = await startFakeWechat();
    onClose(() => wx.close());
    return { wechat: wx, env: { WECHAT_TIMEOUT_MS: String(TIMEOUT_MS) } };
  });

  it('first login creates the user, the 默认 directory and its log row, and a hashed session', async () => {
    const issued = wx.issueCode();
    const before = wx.calls.length;
    const res = await t.caller().auth.login({ code: issued.code });

    expect(wx.calls.length).toBe(before + 1);
    const q = wx.calls.at(-1)!;
    expect(Object.fromEntries(q)).toEqual({
      appid: wx.appId,
      secret: wx.secret,
      js_code: issued.code,
      grant_type: 'authorization_code',
    });

    expect(res.isNew).toBe(true);
    expect(res.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(res.token, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(res.expiresAt).toBeInstanceOf(Date);
    const ttlMs = t.config.sessionTtlDays * 86_400_000;
    expect(Math.abs(res.expiresAt.getTime() - (t.now().getTime() + ttlMs))).toBeLessThan(5000);
    expect(res.user).toEqual({
      id: expect.any(Number),
      nickname: null,
      avatarUrl: null,
      gender: 0,
      city: null,
      province: null,
      country: null,
      createdAt: expect.any(Date),
    });
    expect(JSON.stringify(res)).not.toContain(issued.sessionKey);

    const user = await t.db('users').where({ id: res.user.id }).first();
    expect(user.openid).toBe(issued.openid);
    expect(user.unionid).toBeNull();
    expect(user.session_key).toBe(issued.sessionKey);

    const dirs = await t.db('directories').where({ user_id: res.user.id });
    expect(dirs.map((d) => d.name)).toEqual(['默认']);
    const logs = await t.db('logs').where({ user_id: res.user.id });
    expect(logs.map((l) => [l.type, l.directory_name])).toEqual([['directory.create', '默认']]);

    const sessions = await t.db('sessions').where({ user_id: res.user.id });
    expect(sessions).toHaveLength(1);
    expect(sessions[0].token_hash).toBe(hashToken(res.token));
    expect(sessions[0].token_hash).not.toContain(res.token);
    expect(toDate(sessions[0].expires_at).getTime()).toBe(res.expiresAt.getTime());

    const me = await t.caller(res.token).auth.me();
    expect(me).toEqual(res.user);
  });

  it('keeps the unionid when WeChat sends one', async () => {
    const issued = wx.issueCode({ unionid: 'oUnion-abc' });
    const res = await t.caller().auth.login({ code: issued.code });
    const user = await t.db('users').where({ id: res.user.id }).first();
    expect(user.unionid).toBe('oUnion-abc');
    expect(res.user).not.toHaveProperty('unionid');
  });

  it('a later login finds the same user, stores the new session_key and issues another token', async () => {
    const first = wx.issueCode({ openid: 'oReturning' });
    const a = await t.caller().auth.login({ code: first.code });
    const second = wx.issueCode({ openid: 'oReturning', unionid: 'oUnion-late' });
    const b = await t.caller().auth.login({ code: second.code });

    expect(a.isNew).toBe(true);
    expect(b.isNew).toBe(false);
    expect(b.user.id).toBe(a.user.id);
    expect(b.token).not.toBe(a.token);
    const user = await t.db('users').where({ id: a.user.id }).first();
    expect(user.session_key).toBe(second.sessionKey);
    expect(user.unionid).toBe('oUnion-late');
    expect(await t.db('directories').where({ user_id: a.user.id })).toHaveLength(1);
    // Both devices stay logged in.
    expect((await t.caller(a.token).auth.me()).id).toBe(a.user.id);
    expect((await t.caller(b.token).auth.me()).id).toBe(a.user.id);
  });

  it('fills the profile from encryptedData decrypted with the session_key', async () => {
    const issued = wx.issueCode({ unionid: undefined });
    const enc = encryptUserData(
      issued.sessionKey,
      userInfoPayload(wx.appId, issued.openid, { unionId: 'oUnion-from-data', gender: 2, city: '  深圳 ' }),
    );
    const res = await t.caller().auth.login({ code: issued.code, ...enc });
    expect(res.user).toMatchObject({
      nickname: '小明',
      avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132',
      gender: 2,
      city: '深圳',
      province: 'Guangdong',
      country: 'China',
    });
    const user = await t.db('users').where({ id: res.user.id }).first();
    expect(user.unionid).toBe('oUnion-from-data');
  });

  describe('refusals create nothing', () => {
    const cases: Array<{
      name: string;
      code: () => string;
      extra?: (code: string) => Record<string, string>;
      expected: string;
      message: RegExp;
    }> = [
      { name: 'unknown code (40029)', code: () => 'never-issued-code', expected: 'UNAUTHORIZED', message: /40029.*wx\.login\(\) again/ },
      {
        name: 'used code (40163)',
        code: () => {
          const issued = wx.issueCode();
          wx.script('used-' + issued.code, { errcode: 40163, errmsg: 'code been used, rid: 1' });
          return 'used-' + issued.code;
        },
        expected: 'UNAUTHORIZED',
        message: /already used.*40163/,
      },
      {
        name: 'WeChat rate limit (45011)',
        code: () => scripted({ errcode: 45011, errmsg: 'api minute-quota reach limit' }),
        expected: 'TOO_MANY_REQUESTS',
        message: /45011.*wait/,
      },
      {
        name: 'high-risk user (40226)',
        code: () => scripted({ errcode: 40226, errmsg: 'invalid code, rid: 2' }),
        expected: 'FORBIDDEN',
        message: /high-risk.*40226/,
      },
      {
        name: 'WeChat busy (-1)',
        code: () => scripted({ errcode: -1, errmsg: 'system error' }),
        expected: 'BAD_GATEWAY',
        message: /busy.*-1/,
      },
      {
        name: 'any other errcode',
        code: () => scripted({ errcode: 40125, errmsg: 'invalid appsecret' }),
        expected: 'BAD_GATEWAY',
        message: /40125: invalid appsecret/,
      },
      { name: 'HTTP 500', code: () => scripted({ status: 500 }), expected: 'BAD_GATEWAY', message: /HTTP 500/ },
      {
        name: 'a body that is not JSON',
        code: () => scripted({ status: 200, body: '<html>maintenance</html>' }),
        expected: 'BAD_GATEWAY',
        message: /unreadable/,
      },
      {
        name: 'a hang past the timeout',
        code: () => scripted({ hang: true }),
        expected: 'GATEWAY_TIMEOUT',
        message: new RegExp(`within ${TIMEOUT_MS} ms`),
      },
      {
        name: 'an answer slower than the timeout',
        code: () => scripted({ delayMs: TIMEOUT_MS * 3 }),
        expected: 'GATEWAY_TIMEOUT',
        message: /did not answer/,
      },
      {
        name: 'encryptedData of another user',
        // Fixed keys, iv and plaintext keep the outcome (a padding failure) the same on every run.
        code: () => wx.issueCode({ sessionKey: Buffer.alloc(16, 1).toString('base64') }).code,
        extra: () =>
          encryptUserData(Buffer.alloc(16, 2).toString('base64'), userInfoPayload(wx.appId, 'oFixed'), {
            iv: Buffer.alloc(16, 3),
          }),
        expected: 'BAD_REQUEST',
        message: /does not decrypt/,
      },
      {
        name: 'encryptedData for another appid',
        code: () => {
          const issued = wx.issueCode();
          pending.set(issued.code, issued.sessionKey);
          return issued.code;
        },
        extra: (code) => encryptUserData(pending.get(code)!, userInfoPayload('wxSomeoneElse', 'x')),
        expected: 'BAD_REQUEST',
        message: /watermark\.appid/,
      },
      {
        name: 'encryptedData whose openId differs',
        code: () => {
          const issued = wx.issueCode();
          pending.set(issued.code, issued.sessionKey);
          return issued.code;
        },
        extra: (code) => encryptUserData(pending.get(code)!, userInfoPayload(wx.appId, 'oNotMe')),
        expected: 'BAD_REQUEST',
        message: /openId differs/,
      },
    ];
    const pending = new Map<string, string>();
    let n = 0;
    function scripted(behaviour: Parameters<FakeWechat['script']>[1]): string {
      const code = `scripted-${++n}`;
      wx.script(code, behaviour);
      return code;
    }

    for (const c of cases) {
      it(`${c.name} → ${c.expected}`, async () => {
        const before = await rowCounts(t);
        const code = c.code();
        const err = await t
          .caller()
          .auth.login({ code, ...(c.extra?.(code) ?? {}) })
          .then(
            () => null,
            (e: unknown) => e as { code: string; message: string },
          );
        expect(err).not.toBeNull();
        expect(err!.code).toBe(c.expected);
        expect(err!.message).toMatch(c.message);
        expect(err!.message).not.toContain(wx.secret);
        expect(await rowCounts(t)).toEqual(before);
      });
    }

    it('a code is sent to WeChat once: the used code is refused with 40163, not retried', async () => {
      const issued = wx.issueCode();
      await t.caller().auth.login({ code: issued.code });
      const before = await rowCounts(t);
      const calls = wx.calls.length;
      await expect(t.caller().auth.login({ code: issued.code })).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/40163/),
      });
      expect(wx.calls.length).toBe(calls + 1);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('a timeout is not retried', async () => {
      const code = scripted({ hang: true });
      const calls = wx.calls.length;
      await expect(t.caller().auth.login({ code })).rejects.toMatchObject({ code: 'GATEWAY_TIMEOUT' });
      expect(wx.calls.length).toBe(calls + 1);
    });

    it('bad input is BAD_REQUEST with zodError and never reaches WeChat', async () => {
      const calls = wx.calls.length;
      const before = await rowCounts(t);
      for (const input of [
        { code: '' },
        { code: '   ' },
        { code: 'x'.repeat(121) },
        { code: 'has space' },
        { code: 'abc', encryptedData: 'AAAA' },
        { code: 'abc', iv: 'AAAA' },
      ]) {
        await expect(t.caller().auth.login(input)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      }
      expect(wx.calls.length).toBe(calls);
      expect(await rowCounts(t)).toEqual(before);
    });

    it('WeChat unreachable (connection refused) → BAD_GATEWAY', async () => {
      const down = await createTestApp({ tdb: t.tdb, wechat: wx, env: { WECHAT_API_BASE: 'http://127.0.0.1:1' } });
      try {
        const before = await rowCounts(t);
        await expect(down.caller().auth.login({ code: wx.issueCode().code })).rejects.toMatchObject({
          code: 'BAD_GATEWAY',
          message: expect.stringMatching(/cannot be reached/),
        });
        expect(await rowCounts(t)).toEqual(before);
        expect(down.logLines.join('\n')).not.toContain(wx.secret);
      } finally {
        await down.close();
      }
    });

    it('no log line carries the app secret, whatever failed', () => {
      expect(t.logLines.length).toBeGreaterThan(0);
      expect(t.logLines.join('\n')).not.toContain(wx.secret);
    });
  });

  it('concurrent first logins of one openid create exactly one user and one 默认 directory', async () => {
    const openid = 'oConcurrent-first';
    const codes = Array.from({ length: 8 }, () => wx.issueCode({ openid }).code);
    const results = await Promise.all(codes.map((code) => t.caller().auth.login({ code })));

    const users = await t.db('users').where({ openid });
    expect(users).toHaveLength(1);
    const userId = users[0].id;
    expect(new Set(results.map((r) => r.user.id))).toEqual(new Set([userId]));
    expect(results.filter((r) => r.isNew)).toHaveLength(1);
    expect(await t.db('directories').where({ user_id: userId })).toHaveLength(1);
    expect(await t.db('logs').where({ user_id: userId })).toHaveLength(1);
    expect(await t.db('sessions').where({ user_id: userId })).toHaveLength(codes.length);
    expect(new Set(results.map((r) => r.token)).size).toBe(codes.length);
  });
});

describe('development login (no WeChat credentials)', () => {
  const t = useTestApp();

  it('logs in any code as dev-<code> without calling WeChat', async () => {
    expect(t.config.wechat.appId).toBeUndefined();
    const a = await t.caller().auth.login({ code: 'alice' });
    expect(a.isNew).toBe(true);
    const row = await t.db('users').where({ id: a.user.id }).first();
    expect(row.openid).toBe('dev-alice');
    expect(row.session_key).toBeNull();

    const again = await t.caller().auth.login({ code: 'alice' });
    expect(again.isNew).toBe(false);
    expect(again.user.id).toBe(a.user.id);
    const bob = await t.caller().auth.login({ code: 'bob' });
    expect(bob.user.id).not.toBe(a.user.id);
    expect((await t.caller(bob.token).auth.me()).id).toBe(bob.user.id);
  });
});
