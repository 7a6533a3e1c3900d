import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../helpers/app';

/*
 * protectedProcedure looks the session up once per HTTP request: a batch of protected calls shares
 * that one lookup (the benchmark's row 3), while separate requests and server-side callers still
 * look it up every time, so a logout takes effect at the next request.
 */

const t = useTestApp();
let base: string;
let sessionSelects = 0;

beforeAll(async () => {
  base = await t.listen();
  t.db.on('query', (q: { sql: string }) => {
    if (/^select .* from [`"]sessions[`"]/i.test(q.sql)) sessionSelects++;
  });
});

function batchUrl(paths: string[], inputs: unknown[]): string {
  const input: Record<string, unknown> = {};
  for (const [i, v] of inputs.entries()) input[String(i)] = { json: v };
  return `${base}/trpc/${paths.join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
}

describe('one session lookup per HTTP request', () => {
  it('a batch of five protected calls runs one session SELECT and answers all five', async () => {
    const u = await t.newUser();
    const [dir] = await u.caller.directory.list();
    await u.caller.goods.stockIn({ directoryId: dir!.id, code: 'A-1', quantity: 3 });
    const codes = ['A-1', 'A-2', 'A-1', 'A-3', 'A-1'];

    sessionSelects = 0;
    const res = await fetch(
      batchUrl(
        codes.map(() => 'goods.scan'),
        codes.map((code) => ({ directoryId: dir!.id, code })),
      ),
      { headers: { 'x-session-token': u.token } },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Array<{ result: { data: { json: { quantity: number } | null } } }>;
    expect(body.map((r) => r.result.data.json?.quantity ?? null)).toEqual([3, null, 3, null, 3]);
    expect(sessionSelects).toBe(1);
  });

  it('separate requests look the session up each time, so a logout refuses the next one', async () => {
    const u = await t.newUser();
    const me = () => fetch(`${base}/trpc/auth.me`, { headers: { 'x-session-token': u.token } });

    sessionSelects = 0;
    expect((await me()).status).toBe(200);
    expect((await me()).status).toBe(200);
    expect(sessionSelects).toBe(2);

    const out = await fetch(`${base}/trpc/auth.logout`, {
      method: 'POST',
      headers: { 'x-session-token': u.token, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(out.status).toBe(200);
    expect((await me()).status).toBe(401);
  });

  it('a server-side caller keeps no lookup between calls: logout and expiry apply at once', async () => {
    const u = await t.newUser();
    await expect(u.caller.auth.me()).resolves.toMatchObject({ id: u.userId });
    await u.caller.auth.logout();
    await expect(u.caller.auth.me()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });

    const v = await t.newUser();
    await expect(v.caller.auth.me()).resolves.toMatchObject({ id: v.userId });
    t.advanceClock((t.config.sessionTtlDays + 1) * 86_400_000);
    await expect(v.caller.auth.me()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('a refused token in a batch refuses every call of it with UNAUTHORIZED', async () => {
    const res = await fetch(batchUrl(['auth.me', 'directory.list'], [undefined, {}]), {
      headers: { 'x-session-token': 'A'.repeat(43) },
    });
    const body = (await res.json()) as Array<{ error?: { json: { data: { code: string } } } }>;
    expect(body.map((r) => r.error?.json.data.code)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED']);
  });
});
