import { describe, expect, it } from 'vitest';
import { generateToken, hashToken } from '../../src/auth/sessions';
import { toDate } from '../../src/db/knex';
import { createTestApp, useTestApp } from '../helpers/app';

const DAY_MS = 86_400_000;

describe('sessions and the protected auth procedures (server-side callers)', () => {
  const t = useTestApp({ env: { SESSION_TTL_DAYS: '2' } });

  const login = (code: string) => t.caller().auth.login({ code });

  it('refuses a missing, malformed or unknown token with UNAUTHORIZED', async () => {
    await expect(t.caller().auth.me()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/Missing X-Session-Token/),
    });
    for (const bad of ['x', 'not a token at all', generateToken() + 'A', generateToken().slice(1) + '!']) {
      await expect(t.caller(bad).auth.me()).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/malformed/) });
    }
    await expect(t.caller(generateToken()).auth.me()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/unknown/),
    });
    // Every protected auth procedure sits behind the same check.
    await expect(t.caller().auth.logout()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(t.caller(generateToken()).auth.updateProfile({ nickname: 'x' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('the hash of a token, not the token, finds the session', async () => {
    const { token } = await login('hash-check');
    const hash = hashToken(token);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    // Sending the stored hash as if it were the token gets nowhere.
    await expect(t.caller(hash).auth.me()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('several devices stay logged in; logout revokes only that token', async () => {
    const phone = await login('multi-device');
    const tablet = await login('multi-device');
    expect(tablet.user.id).toBe(phone.user.id);

    expect(await t.caller(phone.token).auth.logout()).toEqual({ ok: true });
    await expect(t.caller(phone.token).auth.me()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: expect.stringMatching(/logged out/),
    });
    expect((await t.caller(tablet.token).auth.me()).id).toBe(tablet.user.id);

    const rows = await t.db('sessions').where({ user_id: phone.user.id }).orderBy('id');
    expect(rows.map((r) => r.revoked_at !== null)).toEqual([true, false]);
    // Logging out twice is refused like any revoked token, and changes nothing.
    await expect(t.caller(phone.token).auth.logout()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('a session expires after SESSION_TTL_DAYS', async () => {
    const local = await createTestApp({ tdb: t.tdb, env: { SESSION_TTL_DAYS: '2' } });
    try {
      const res = await local.caller().auth.login({ code: 'expiring' });
      local.advanceClock(2 * DAY_MS - 60_000);
      expect((await local.caller(res.token).auth.me()).id).toBe(res.user.id);
      local.advanceClock(2 * 60_000);
      await expect(local.caller(res.token).auth.me()).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringMatching(/expired/),
      });
      // A new login works again and gives a fresh expiry.
      const again = await local.caller().auth.login({ code: 'expiring' });
      expect(again.expiresAt.getTime()).toBeGreaterThan(res.expiresAt.getTime());
      expect((await local.caller(again.token).auth.me()).id).toBe(res.user.id);
    } finally {
      await local.close();
    }
  });

  it('refreshes last_seen_at, at most once a minute', async () => {
    const local = await createTestApp({ tdb: t.tdb });
    try {
      const res = await local.caller().auth.login({ code: 'last-seen' });
      const seen = async () =>
        toDate(
          (
            await local
              .db('sessions')
              .where({ token_hash: hashToken(res.token) })
              .first()
          ).last_seen_at,
        ).getTime();
      const loginAt = await seen();
      local.advanceClock(10_000);
      await local.caller(res.token).auth.me();
      expect(await seen()).toBe(loginAt);
      local.advanceClock(120_000);
      await local.caller(res.token).auth.me();
      const refreshed = await seen();
      expect(refreshed).toBeGreaterThanOrEqual(loginAt + 130_000);
      expect(refreshed).toBeLessThanOrEqual(local.now().getTime());
    } finally {
      await local.close();
    }
  });

  describe('auth.updateProfile', () => {
    it('updates the given fields, trims them, and leaves the others alone', async () => {
      const { token, user } = await login('profile-1');
      const me = t.caller(token);
      const updated = await me.auth.updateProfile({
        nickname: '  小红  ',
        avatarUrl: 'https://example.com/a.png',
        gender: 2,
        city: '杭州',
      });
      expect(updated).toEqual({
        ...user,
        nickname: '小红',
        avatarUrl: 'https://example.com/a.png',
        gender: 2,
        city: '杭州',
      });
      const second = await me.auth.updateProfile({ province: 'Zhejiang', country: 'China' });
      expect(second).toMatchObject({ nickname: '小红', city: '杭州', province: 'Zhejiang', country: 'China' });
      expect(await me.auth.me()).toEqual(second);
    });

    it('null or blank clears a field; an empty update changes nothing', async () => {
      const me = t.caller((await login('profile-2')).token);
      await me.auth.updateProfile({ nickname: 'n', city: 'c', avatarUrl: 'http://x.test/a' });
      const cleared = await me.auth.updateProfile({ nickname: null, city: '   ', avatarUrl: null });
      expect(cleared).toMatchObject({ nickname: null, city: null, avatarUrl: null });
      expect(await me.auth.updateProfile({})).toEqual(cleared);
    });

    it('refuses bad input with BAD_REQUEST and zodError, changing nothing', async () => {
      const { token, user } = await login('profile-3');
      const me = t.caller(token);
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ nickname: 'x'.repeat(101) }, 'nickname'],
        [{ avatarUrl: 'javascript:alert(1)' }, 'avatarUrl'],
        [{ avatarUrl: 'ftp://example.com/a.png' }, 'avatarUrl'],
        [{ avatarUrl: `https://example.com/${'a'.repeat(1010)}` }, 'avatarUrl'],
        [{ gender: 3 }, 'gender'],
        [{ gender: '1' }, 'gender'],
        [{ city: 'c'.repeat(101) }, 'city'],
        [{ province: 5 }, 'province'],
        [{ country: 'c'.repeat(101) }, 'country'],
      ];
      for (const [input, field] of bad) {
        const err = await me.auth.updateProfile(input as never).then(
          () => null,
          (e: unknown) => e as { code: string; cause?: { issues?: Array<{ path: unknown[] }> } },
        );
        expect(err?.code, JSON.stringify(input)).toBe('BAD_REQUEST');
        // A server-side caller carries the ZodError as the cause (HTTP clients get it as data.zodError).
        expect((err?.cause?.issues ?? []).map((i) => i.path[0])).toContain(field);
      }
      expect(await me.auth.me()).toEqual(user);
    });

    it('accepts the maximum lengths', async () => {
      const me = t.caller((await login('profile-4')).token);
      const avatarUrl = `https://e.com/${'a'.repeat(1024 - 14)}`;
      expect(avatarUrl).toHaveLength(1024);
      const res = await me.auth.updateProfile({ nickname: '名'.repeat(100), avatarUrl, city: 'c'.repeat(100) });
      expect(res.nickname).toBe('名'.repeat(100));
      expect(res.avatarUrl).toBe(avatarUrl);
    });
  });
});
