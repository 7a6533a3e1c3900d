import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/sessions';
import { createTestApp, useTestApp } from '../helpers/app';
import { createTestDb, type TestDb } from '../helpers/db';
import { startFakeWechat, type FakeWechat } from '../helpers/fake-wechat';
import { call, expectUnchanged, sessionHeaders, snapshot, trpcData, trpcError } from './support/http';

/*
 * Sessions under attack, over HTTP: guessing tokens gets UNAUTHORIZED every time and then the
 * address is rate-limited; only the token's hash is stored; expired and revoked tokens stay dead
 * for every procedure; no token ever reaches a log line.
 */

const DAY_MS = 86_400_000;
const BRUTE_FORCE_BUDGET = 40;

let tdb: TestDb;
let wechat: FakeWechat;
/** Every token issued or tried in this file: none may appear in a log line. */
const tokensSeen = new Set<string>();

const t = useTestApp(async (onClose) => {
  tdb = await createTestDb();
  onClose(() => tdb.destroy());
  wechat = await startFakeWechat();
  onClose(() => wechat.close());
  // trace: the most verbose logging there is must still keep tokens out.
  return { tdb, wechat, env: { LOG_LEVEL: 'trace', SESSION_TTL_DAYS: '7', RATE_LIMIT_MAX: '100000' } };
});
let base: string;
beforeAll(async () => {
  base = await t.listen();
});

async function login(openid?: string): Promise<{ token: string; userId: number; sessionKey: string }> {
  const issued = wechat.issueCode(openid ? { openid } : {});
  const result = trpcData<{ token: string; user: { id: number } }>(await call(base, 'mutation', 'auth.login', { code: issued.code }));
  tokensSeen.add(result.token);
  return { token: result.token, userId: result.user.id, sessionKey: issued.sessionKey };
}

/** One call of each kind a client makes with its token. */
async function everyUse(token: string) {
  const h = sessionHeaders(token);
  return [
    await call(base, 'query', 'auth.me', undefined, h),
    await call(base, 'query', 'directory.list', undefined, h),
    await call(base, 'mutation', 'directory.create', { name: `d-${randomBytes(3).toString('hex')}` }, h),
    await call(base, 'query', 'log.list', {}, h),
    await call(base, 'mutation', 'auth.updateProfile', { nickname: 'x' }, h),
    await call(base, 'mutation', 'auth.logout', undefined, h),
  ];
}

function expectAllUnauthorized(responses: Awaited<ReturnType<typeof everyUse>>): void {
  for (const res of responses) {
    expect(res.status, res.text.slice(0, 200)).toBe(401);
    expect(trpcError(res).data.code).toBe('UNAUTHORIZED');
  }
}

describe('brute-forcing session tokens', () => {
  it('gets UNAUTHORIZED for every guess, then TOO_MANY_REQUESTS for the address, and changes nothing', async () => {
    const victim = await login();
    const attack = await createTestApp({ tdb, env: { RATE_LIMIT_MAX: String(BRUTE_FORCE_BUDGET), TRUST_PROXY: '127.0.0.1' } });
    const attackBase = await attack.listen();
    try {
      const before = await snapshot(tdb.db);
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      const guesses = [
        ...Array.from({ length: 20 }, () => randomBytes(32).toString('base64url')), // well-formed, random
        ...Array.from({ length: 8 }, (_, i) => flip(victim.token, i * 5)), // one character off
        victim.token.toUpperCase(),
        victim.token.toLowerCase(),
        `${victim.token} `.trim() + '=',
        victim.token.slice(0, 42),
        hashToken(victim.token), // the stored hash is not a credential
        'Bearer ' + victim.token,
        "' OR '1'='1",
        '%00',
        'A'.repeat(4000),
        '',
        'null',
      ];
      for (const g of guesses) tokensSeen.add(g);
      const attacker = { 'x-forwarded-for': '198.51.100.66' };
      for (let i = 0; i < BRUTE_FORCE_BUDGET; i++) {
        const guess = guesses[i % guesses.length]!;
        const res = await call(attackBase, 'query', 'auth.me', undefined, sessionHeaders(guess, attacker));
        expect(res.status, `guess ${i}: ${res.text.slice(0, 200)}`).toBe(401);
        expect(trpcError(res).data.code).toBe('UNAUTHORIZED');
      }
      for (let i = 0; i < 10; i++) {
        const res = await call(attackBase, 'query', 'auth.me', undefined, sessionHeaders(guesses[i]!, attacker));
        expect(res.status).toBe(429);
        expect(trpcError(res).data.code).toBe('TOO_MANY_REQUESTS');
      }
      // The real token from the attacker's address is refused too: the address is out of budget.
      expect((await call(attackBase, 'query', 'auth.me', undefined, sessionHeaders(victim.token, attacker))).status).toBe(429);
      // The victim, from their own address, is not locked out by someone else's guessing.
      const mine = await call(
        attackBase,
        'query',
        'auth.me',
        undefined,
        sessionHeaders(victim.token, { 'x-forwarded-for': '203.0.113.5' }),
      );
      expect(trpcData<{ id: number }>(mine).id).toBe(victim.userId);

      const after = await snapshot(tdb.db);
      expectUnchanged(before, after);
      expect(attack.logLines.join('\n')).not.toContain(victim.token);
    } finally {
      await attack.close();
    }
  });
});

describe('session storage and lifetime', () => {
  it('stores only the hash of a token: the token itself is in no row of any table', async () => {
    const { token, userId } = await login();
    const sessions = await tdb.db('sessions').where({ user_id: userId });
    expect(sessions.map((s: { token_hash: string }) => s.token_hash)).toContain(hashToken(token));
    for (const table of ['users', 'sessions', 'directories', 'goods', 'logs', 'request_results']) {
      const rows = await tdb.db(table).select('*');
      expect(JSON.stringify(rows), `table ${table}`).not.toContain(token);
    }
  });

  it('an expired token stays dead for every procedure, also after the user logs in again', async () => {
    const first = await login('expiring-user');
    t.advanceClock(7 * DAY_MS + 1000);
    expectAllUnauthorized(await everyUse(first.token));
    const again = await login('expiring-user');
    expect(again.userId).toBe(first.userId);
    expect(trpcData<{ id: number }>(await call(base, 'query', 'auth.me', undefined, sessionHeaders(again.token))).id).toBe(first.userId);
    expectAllUnauthorized(await everyUse(first.token));
  });

  it('a revoked token stays dead for every procedure, while the other sessions of the user live on', async () => {
    const phone = await login('two-devices');
    const tablet = await login('two-devices');
    const out = await call(base, 'mutation', 'auth.logout', undefined, sessionHeaders(phone.token));
    expect(trpcData(out)).toEqual({ ok: true });
    expectAllUnauthorized(await everyUse(phone.token));
    // Time passing changes nothing for a revoked token.
    t.advanceClock(60_000);
    expectAllUnauthorized(await everyUse(phone.token));
    expect((await call(base, 'query', 'auth.me', undefined, sessionHeaders(tablet.token))).status).toBe(200);
  });

  it('never writes a token (issued or guessed) or a session_key into a log line, even at trace level', async () => {
    const { token, sessionKey } = await login();
    await call(base, 'query', 'auth.me', undefined, sessionHeaders(token));
    await call(base, 'query', 'auth.me', undefined, sessionHeaders(`${token}x`));
    const logs = t.logLines.join('\n');
    expect(t.logLines.length).toBeGreaterThan(20);
    for (const seen of [...tokensSeen].filter((s) => s.length >= 16)) expect(logs).not.toContain(seen);
    expect(logs).not.toContain(sessionKey);
  });
});
