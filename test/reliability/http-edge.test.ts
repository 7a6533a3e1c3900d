import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../../src/routers/_app';
import { createTestApp, useTestApp, type TestUser } from '../helpers/app';
import { createTestDb, type TestDb } from '../helpers/db';
import { expectUnchanged, send, sessionHeaders, snapshot, trpcError } from './support/http';
import { rawRequest, type RawResponse } from './support/raw-http';

/*
 * The HTTP edge: raw garbage gets a clear 4xx (never a 500) and changes nothing; security headers
 * are on every answer; CORS is closed; every log line of a request carries its id; trustProxy
 * decides whose address X-Forwarded-For is; the global rate limit answers in tRPC's own format.
 */

let tdb: TestDb;
beforeAll(async () => {
  tdb = await createTestDb();
});
afterAll(async () => {
  await tdb?.destroy();
});

type Envelope = { error?: { json?: { data?: { code?: string; httpStatus?: number } } } };

/** A tRPC error envelope with this status and code (for a batch: every entry of the array). */
function expectTrpc4xx(res: RawResponse, status: number, code: string): void {
  expect(res.status, res.text.slice(0, 300)).toBe(status);
  const envelopes = (Array.isArray(res.body) ? res.body : [res.body]) as Envelope[];
  expect(envelopes.length).toBeGreaterThan(0);
  for (const envelope of envelopes) {
    expect(envelope?.error?.json?.data?.code, res.text.slice(0, 300)).toBe(code);
    expect(envelope?.error?.json?.data?.httpStatus).toBe(status);
  }
}

describe('raw HTTP garbage', () => {
  const t = useTestApp(() => ({ tdb, env: { RATE_LIMIT_MAX: '100000' } }));
  let base: string;
  let user: TestUser;
  let stockIn: string;

  beforeAll(async () => {
    base = await t.listen();
    user = await t.newUser();
    const [home] = await user.caller.directory.list();
    stockIn = JSON.stringify(superjson.serialize({ directoryId: home!.id, code: 'RAW-1' }));
  });

  const post = (headers: Record<string, string | number>, body?: string | Buffer) =>
    rawRequest(base, { method: 'POST', path: '/trpc/goods.stockIn', headers: { 'x-session-token': user.token, ...headers }, body });

  it('refuses every kind of garbage with a clear 4xx, changes nothing, and keeps serving', async () => {
    const before = await snapshot(t.db);
    const json = { 'content-type': 'application/json' };

    expectTrpc4xx(await post(json, '{"json": {"directoryId": 1,'), 400, 'BAD_REQUEST');
    expectTrpc4xx(await post(json, 'not json at all'), 400, 'BAD_REQUEST');
    expectTrpc4xx(await post(json, Buffer.from([0xff, 0xfe, 0x00, 0x80])), 400, 'BAD_REQUEST');
    expectTrpc4xx(await post(json, ''), 400, 'BAD_REQUEST');
    expectTrpc4xx(await post({ 'content-type': 'text/plain' }, stockIn), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectTrpc4xx(
      await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'directoryId=1&code=x'),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expectTrpc4xx(await post({ 'content-type': 'application/xml' }, '<stockIn/>'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectTrpc4xx(await post({ 'content-type': 'image/png' }, Buffer.alloc(64, 1)), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectTrpc4xx(await post({}, stockIn), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectTrpc4xx(await post({ 'content-type': 'multipart/form-data; boundary=x' }, '--x\r\ngarbage'), 400, 'BAD_REQUEST');
    expectTrpc4xx(await post({ 'content-type': 'application/json; charset=utf-16' }, '{"json":'), 400, 'BAD_REQUEST');

    // 10 MB: with a content-length it is refused before it is read; chunked, once it passes bodyLimit.
    const tenMb = Buffer.alloc(10 * 1024 * 1024, 'x');
    expectTrpc4xx(await post(json, tenMb), 413, 'PAYLOAD_TOO_LARGE');
    expectTrpc4xx(
      await rawRequest(base, {
        method: 'POST',
        path: '/trpc/goods.stockIn',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-session-token': user.token },
        chunks: { size: 64 * 1024, count: 160 },
      }),
      413,
      'PAYLOAD_TOO_LARGE',
    );

    // A URL of 100 KB: Node refuses the request line itself (header limit 16 KB).
    const hugeUrl = await rawRequest(base, { path: `/trpc/goods.list?input=${'a'.repeat(100 * 1024)}` });
    expect(hugeUrl.status).toBe(431);

    // A batch of 1,000 paths: longer than any route parameter may be; refused by GET or POST as
    // one tRPC BAD_REQUEST envelope (not a thousand of them).
    const thousand = Array.from({ length: 1000 }, () => 'goods.stockIn').join(',');
    const batchGet = await rawRequest(base, { path: `/trpc/${thousand}?batch=1&input={}` });
    expectTrpc4xx(batchGet, 400, 'BAD_REQUEST');
    expect(batchGet.text).toContain('too many calls in one batch');
    expect(batchGet.text.length).toBeLessThan(2000);
    const batchPost = await rawRequest(base, { method: 'POST', path: `/trpc/${thousand}?batch=1`, headers: json, body: '{}' });
    expectTrpc4xx(batchPost, 400, 'BAD_REQUEST');
    // Just over the batch cap: tRPC's own refusal.
    const overCap = Array.from({ length: t.config.maxBatchSize + 1 }, () => 'goods.stockIn').join(',');
    expectTrpc4xx(
      await rawRequest(base, {
        method: 'POST',
        path: `/trpc/${overCap}?batch=1`,
        headers: { ...json, 'x-session-token': user.token },
        body: '{}',
      }),
      400,
      'BAD_REQUEST',
    );
    // A batch whose input is not an object keyed by index.
    expectTrpc4xx(
      await rawRequest(base, {
        method: 'POST',
        path: '/trpc/goods.stockIn,goods.stockIn?batch=1',
        headers: { ...json, 'x-session-token': user.token },
        body: '[1,2]',
      }),
      400,
      'BAD_REQUEST',
    );

    // Odd URLs and methods.
    expect((await rawRequest(base, { path: '/trpc/goods.list%E0%A4%A' })).status).toBe(400);
    expectTrpc4xx(await rawRequest(base, { path: '/trpc/no.such.procedure' }), 404, 'NOT_FOUND');
    expectTrpc4xx(await rawRequest(base, { path: '/trpc/a/b/c' }), 404, 'NOT_FOUND');
    expect((await rawRequest(base, { path: '/../../etc/passwd' })).status).toBe(404);
    expectTrpc4xx(
      await rawRequest(base, { method: 'PUT', path: '/trpc/goods.stockIn', headers: json, body: stockIn }),
      405,
      'METHOD_NOT_SUPPORTED',
    );
    expectTrpc4xx(
      await rawRequest(base, { method: 'DELETE', path: '/trpc/goods.delete', headers: json, body: '{}' }),
      405,
      'METHOD_NOT_SUPPORTED',
    );
    expectTrpc4xx(await rawRequest(base, { method: 'GET', path: '/trpc/goods.stockIn' }), 405, 'METHOD_NOT_SUPPORTED');

    expectUnchanged(before, await snapshot(t.db));
    expect((await send(`${base}/healthz`)).status).toBe(200);
    expect(t.logLines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toEqual([]);
  });
});

describe('security headers, CORS and request ids', () => {
  const t = useTestApp(() => ({ tdb, env: { RATE_LIMIT_MAX: '100000' } }));
  let base: string;

  beforeAll(async () => {
    base = await t.listen();
  });

  const answers = async () => [
    await send(`${base}/healthz`),
    await send(`${base}/trpc/auth.me`),
    await send(`${base}/trpc/goods.stockIn`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<x/>' }),
    await send(`${base}/nowhere`),
  ];

  it('puts helmet headers on every answer (success, refusal, unknown route) and no x-powered-by', async () => {
    for (const res of await answers()) {
      const h = res.headers;
      expect(h.get('x-content-type-options')).toBe('nosniff');
      expect(h.get('x-frame-options')).toBe('DENY');
      expect(h.get('content-security-policy')).toContain("default-src 'none'");
      expect(h.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(h.get('referrer-policy')).toBe('no-referrer');
      expect(h.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(h.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(h.get('cache-control')).toBe('no-store');
      expect(h.get('x-powered-by')).toBeNull();
    }
  });

  it('sends no CORS header, to any origin, on simple requests or preflights', async () => {
    const evil = { origin: 'https://evil.example' };
    const responses = [
      await send(`${base}/trpc/auth.me`, { headers: evil }),
      await send(`${base}/healthz`, { headers: evil }),
      await send(`${base}/trpc/auth.logout`, { method: 'POST', headers: { ...evil, 'content-type': 'application/json' }, body: '{}' }),
      await send(`${base}/trpc/goods.stockIn`, {
        method: 'OPTIONS',
        headers: { ...evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-session-token' },
      }),
      await send(`${base}/healthz`, { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'GET' } }),
    ];
    for (const res of responses) {
      const cors = [...res.headers.keys()].filter((k) => k.startsWith('access-control-'));
      expect(cors).toEqual([]);
    }
    // A preflight is never approved.
    expect(responses[3]!.status).toBeGreaterThanOrEqual(400);
    expect(responses[4]!.status).toBeGreaterThanOrEqual(400);
  });

  it('gives every request an id, echoes it, keeps a sane incoming one and replaces anything else', async () => {
    const mine = await send(`${base}/healthz`, { headers: { 'x-request-id': 'lb-7f3a.42:abc' } });
    expect(mine.headers.get('x-request-id')).toBe('lb-7f3a.42:abc');
    for (const bad of ['has space', 'x'.repeat(500), '"quoted"', '{"json":1}', '-leading-dash']) {
      const res = await send(`${base}/healthz`, { headers: { 'x-request-id': bad } });
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const a = (await send(`${base}/healthz`)).headers.get('x-request-id');
    const b = (await send(`${base}/healthz`)).headers.get('x-request-id');
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
    const lines = t.logLines.map((l) => JSON.parse(l) as { reqId?: string; msg: string });
    // One access line per request, once it is answered, saying what was asked and what came of it.
    const access = lines.filter((l) => l.reqId === 'lb-7f3a.42:abc');
    expect(access).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'request completed',
        req: expect.objectContaining({ method: 'GET', url: '/healthz', remoteAddress: '127.0.0.1' }),
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      }),
    ]);
  });

  it('writes the request id into every log line of every request, refusals included', async () => {
    const user = await t.newUser();
    await answers();
    await send(`${base}/trpc/auth.me`, { headers: sessionHeaders(user.token) });
    await send(`${base}/trpc/goods.stockIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024),
    });
    const lines = t.logLines.map((l) => JSON.parse(l) as { reqId?: string; msg: string });
    const outside = lines.filter((l) => !l.reqId && !l.msg.startsWith('Server listening'));
    expect(outside).toEqual([]);
    expect(lines.filter((l) => l.reqId).length).toBeGreaterThan(10);
  });
});

describe('global rate limit and trustProxy', () => {
  const MAX = 5;

  async function limited(env: Record<string, string>) {
    const t = await createTestApp({ tdb, env: { RATE_LIMIT_MAX: String(MAX), ...env } });
    return { t, base: await t.listen() };
  }

  it('refuses the request after RATE_LIMIT_MAX a minute with a tRPC TOO_MANY_REQUESTS a stock client decodes; /healthz is exempt', async () => {
    const { t, base } = await limited({});
    try {
      for (let i = 0; i < MAX; i++) expect((await send(`${base}/trpc/auth.me`)).status).toBe(401);
      const single = await send(`${base}/trpc/auth.me`);
      expect(single.status).toBe(429);
      expect(Number(single.headers.get('retry-after'))).toBeGreaterThan(0);
      const error = trpcError(single);
      expect(error).toMatchObject({ code: -32029, data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429, path: 'auth.me' } });

      const batch = await send(`${base}/trpc/auth.me,directory.list?batch=1&input=${encodeURIComponent('{}')}`);
      expect(batch.status).toBe(429);
      expect(batch.body).toHaveLength(2);
      expect((batch.body as { error: { json: { data: { path: string; code: string } } } }[]).map((e) => e.error.json.data)).toMatchObject([
        { path: 'auth.me', code: 'TOO_MANY_REQUESTS' },
        { path: 'directory.list', code: 'TOO_MANY_REQUESTS' },
      ]);

      const client = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${base}/trpc`, transformer: superjson })] });
      const [a, b] = await Promise.allSettled([client.auth.me.query(), client.directory.list.query()]);
      for (const r of [a, b]) {
        expect(r?.status).toBe('rejected');
        const reason = (r as PromiseRejectedResult).reason as unknown;
        expect(reason).toBeInstanceOf(TRPCClientError);
        expect((reason as TRPCClientError<AppRouter>).data?.code).toBe('TOO_MANY_REQUESTS');
      }
      for (let i = 0; i < 3; i++) expect((await send(`${base}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('without TRUST_PROXY, X-Forwarded-For is ignored: the limit keys on the socket and logs show it', async () => {
    const { t, base } = await limited({});
    try {
      for (let i = 0; i < MAX; i++) {
        expect((await send(`${base}/trpc/auth.me`, { headers: { 'x-forwarded-for': `203.0.113.${i + 1}` } })).status).toBe(401);
      }
      const spoofed = await send(`${base}/trpc/auth.me`, { headers: { 'x-forwarded-for': '198.51.100.99' } });
      expect(spoofed.status).toBe(429);
      const addresses = t.logLines.map((l) => (JSON.parse(l) as { req?: { remoteAddress?: string } }).req?.remoteAddress).filter(Boolean);
      expect(new Set(addresses)).toEqual(new Set(['127.0.0.1']));
    } finally {
      await t.close();
    }
  });

  it('with TRUST_PROXY, each X-Forwarded-For client has its own budget and is the logged address', async () => {
    const { t, base } = await limited({ TRUST_PROXY: '127.0.0.1' });
    try {
      const from = (ip: string) => send(`${base}/trpc/auth.me`, { headers: { 'x-forwarded-for': ip } });
      for (let i = 0; i < MAX; i++) expect((await from('203.0.113.1')).status).toBe(401);
      expect((await from('203.0.113.1')).status).toBe(429);
      expect((await from('203.0.113.2')).status).toBe(401);
      const addresses = new Set(
        t.logLines.map((l) => (JSON.parse(l) as { req?: { remoteAddress?: string } }).req?.remoteAddress).filter(Boolean),
      );
      expect(addresses).toEqual(new Set(['203.0.113.1', '203.0.113.2']));
    } finally {
      await t.close();
    }
  });
});
