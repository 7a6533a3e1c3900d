import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashToken } from '../../src/auth/sessions';
import { insertUserWithDefaultDirectory } from '../../src/auth/users';
import { appRouter } from '../../src/routers/_app';
import { createTestApp, type TestApp } from '../helpers/app';
import { snapshot } from '../domain/helpers';

/*
 * The lean tRPC transport (src/http/trpc-transport.ts) must answer exactly what tRPC's stock
 * Fastify adapter answers. Two servers, each on a fresh database seeded the same way and frozen at
 * the same instant, get the same requests in the same order: the lean one and one forced onto the
 * stock adapter. Status, the headers tRPC sets and the body must be equal (stack traces aside), and
 * so must the databases at the end. The framing tells which path answered: the lean path sends one
 * body with a Content-Length, the stock adapter streams it chunked.
 */

const FROZEN = new Date('2026-11-24T08:00:00.000Z');

interface Side {
  t: TestApp;
  tokens: [string, string];
}

interface Req {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string;
}

let lean: Side;
let stock: Side;
const tokens: [string, string] = [generateToken(), generateToken()];

async function side(transport: 'lean' | 'fetch'): Promise<Side> {
  const t = await createTestApp({ clock: () => FROZEN, trpcTransport: transport });
  for (const [i, token] of tokens.entries()) {
    const userId = await t.db.transaction((trx) => insertUserWithDefaultDirectory(trx, { openid: `diff-${i}` }, FROZEN));
    await t.db('sessions').insert({
      user_id: userId,
      token_hash: hashToken(token),
      created_at: FROZEN,
      expires_at: new Date(FROZEN.getTime() + 30 * 86_400_000),
      last_seen_at: FROZEN,
      revoked_at: null,
    });
  }
  return { t, tokens };
}

beforeAll(async () => {
  // One after the other, so that both databases hand out the same ids.
  lean = await side('lean');
  stock = await side('fetch');
});

afterAll(async () => {
  await lean?.t.close();
  await stock?.t.close();
});

/** Stack traces name the code path, which is the one thing allowed to differ. */
function withoutStacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutStacks);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'stack')
        .map(([k, v]) => [k, withoutStacks(v)]),
    );
  }
  return value;
}

function comparable(res: LightMyRequestResponse) {
  let body: unknown;
  try {
    body = withoutStacks(JSON.parse(res.body));
  } catch {
    body = res.body.replace(/"stack":"(?:[^"\\]|\\.)*"/g, '');
  }
  return {
    status: res.statusCode,
    contentType: res.headers['content-type'],
    vary: res.headers.vary,
    allow: res.headers.allow,
    body,
  };
}

const framing = (res: LightMyRequestResponse) => (res.headers['transfer-encoding'] === 'chunked' ? 'chunked' : 'length');

/**
 * Sends the request to both servers and requires the same answer. The lean path took it when the
 * lean server sent one body with a Content-Length where the stock adapter streamed it chunked;
 * otherwise both servers answered it the same way (tRPC's handler, or Fastify before tRPC).
 */
async function both(req: Req): Promise<{ res: LightMyRequestResponse; lean: boolean }> {
  const a = await lean.t.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload });
  const b = await stock.t.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, payload: req.payload });
  expect(comparable(a), `${req.method} ${req.url} ${req.payload ?? ''}`).toEqual(comparable(b));
  const tookLean = framing(a) !== framing(b);
  if (tookLean) expect([framing(a), framing(b)]).toEqual(['length', 'chunked']);
  return { res: a, lean: tookLean };
}

const token = (i: 0 | 1 = 0) => ({ 'x-session-token': tokens[i] });
const enc = (v: unknown) => encodeURIComponent(JSON.stringify(v));
const ser = (v: unknown) => superjson.serialize(v);
const batchOf = (inputs: unknown[]) => Object.fromEntries(inputs.map((v, i) => [String(i), ser(v)]));

function query(path: string, input?: unknown, headers: Record<string, string> = token()): Req {
  return { method: 'GET', url: `/trpc/${path}${input === undefined ? '' : `?input=${enc(ser(input))}`}`, headers };
}
function mutation(path: string, input?: unknown, headers: Record<string, string> = token()): Req {
  return {
    method: 'POST',
    url: `/trpc/${path}`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: input === undefined ? '' : JSON.stringify(ser(input)),
  };
}
function queryBatch(paths: string[], inputs: unknown[], headers: Record<string, string> = token()): Req {
  return { method: 'GET', url: `/trpc/${paths.join(',')}?batch=1&input=${enc(batchOf(inputs))}`, headers };
}
function mutationBatch(paths: string[], inputs: unknown[], headers: Record<string, string> = token()): Req {
  return {
    method: 'POST',
    url: `/trpc/${paths.join(',')}?batch=1`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(batchOf(inputs)),
  };
}

/** Sends `req` to both; requires equal answers and that the expected path answered. */
async function expectSame(req: Req, path: 'lean' | 'stock'): Promise<LightMyRequestResponse> {
  const { res, lean: tookLean } = await both(req);
  expect(tookLean, `${req.method} ${req.url} should take the ${path} path`).toBe(path === 'lean');
  return res;
}

function dataOf<T>(res: LightMyRequestResponse): T {
  return superjson.deserialize((JSON.parse(res.body) as { result: { data: never } }).result.data) as T;
}

describe('the lean tRPC transport answers exactly what the stock adapter answers', () => {
  let dir = 0;
  let otherDir = 0;
  let goodsId = 0;

  it('successful queries and mutations, single and batched, take the lean path', async () => {
    const dirs = dataOf<Array<{ id: number }>>(await expectSame(query('directory.list', {}), 'lean'));
    dir = dirs[0]!.id;
    otherDir = dataOf<Array<{ id: number }>>(await expectSame(query('directory.list', {}, token(1)), 'lean'))[0]!.id;
    expect(otherDir).not.toBe(dir);

    await expectSame(query('auth.me'), 'lean');
    const created = await expectSame(mutation('goods.stockIn', { directoryId: dir, code: '6901', name: '水', quantity: 5 }), 'lean');
    goodsId = dataOf<{ goods: { id: number } }>(created).goods.id;
    await expectSame(mutation('goods.stockIn', { directoryId: dir, code: '6901', quantity: 2, remarks: '补货' }), 'lean');
    await expectSame(mutation('goods.stockIn', { directoryId: dir, code: '6902 b', requestId: 'r-1' }), 'lean');
    await expectSame(mutation('goods.stockIn', { directoryId: dir, code: '6902 b', requestId: 'r-1' }), 'lean');
    await expectSame(mutation('goods.stockOut', { directoryId: dir, code: '6901', quantity: 3 }), 'lean');
    await expectSame(query('goods.scan', { directoryId: dir, code: '6901' }), 'lean');
    await expectSame(query('goods.scan', { directoryId: dir, code: 'unknown' }), 'lean');
    // '+' in a query string is a space to URLSearchParams, which is what tRPC reads the input with.
    await expectSame(
      {
        method: 'GET',
        url: `/trpc/goods.scan?input=${enc(ser({ directoryId: dir, code: '6902 b' })).replace('%20', '+')}`,
        headers: token(),
      },
      'lean',
    );
    await expectSame(query('goods.get', { id: goodsId }), 'lean');
    await expectSame(query('goods.list', { directoryId: dir, limit: 1 }), 'lean');
    await expectSame(query('goods.list', { directoryId: dir, search: '%' }), 'lean');
    // A malformed escape: URLSearchParams (tRPC) reads U+FFFD where Fastify's parser keeps '%E4%BD'.
    await expectSame(
      {
        method: 'GET',
        url: `/trpc/goods.scan?input=${enc(ser({ directoryId: dir, code: 'X' })).replace('X', '%E4%BD')}`,
        headers: token(),
      },
      'lean',
    );
    await expectSame(
      { method: 'GET', url: `/trpc/goods.scan?input=${enc(ser({ directoryId: dir, code: '6901' }))}&input=%7B`, headers: token() },
      'lean',
    );
    await expectSame(mutation('goods.update', { id: goodsId, name: '矿泉水' }), 'lean');
    await expectSame(query('log.list', { type: 'stock.in', limit: 2 }), 'lean');
    await expectSame(mutation('directory.create', { name: '仓库二' }), 'lean');
    await expectSame(mutation('auth.updateProfile', { nickname: '店长', gender: 1 }), 'lean');
    await expectSame(
      queryBatch(
        ['goods.scan', 'goods.scan', 'auth.me', 'directory.list'],
        [{ directoryId: dir, code: '6901' }, { directoryId: dir, code: 'x' }, undefined, {}],
      ),
      'lean',
    );
    // Calls of a batch run concurrently, so of two writes either may commit first (and get the lower
    // log id): one write and one refusal (no such goods) answer the same in either order.
    await expectSame(
      mutationBatch(
        ['goods.stockIn', 'goods.stockOut'],
        [
          { directoryId: dir, code: '6903' },
          { directoryId: dir, code: 'absent' },
        ],
      ),
      'lean',
    );
    await expectSame(queryBatch(['auth.me'], [undefined]), 'lean');
    await expectSame(
      { method: 'GET', url: `/trpc/goods%2Escan?input=${enc(ser({ directoryId: dir, code: '6901' }))}`, headers: token() },
      'lean',
    );
    // Extra query parameters, a JSON content type on a GET, a charset and upper case.
    await expectSame({ ...query('auth.me'), url: '/trpc/auth.me?foo=1&batch=0' }, 'lean');
    await expectSame(
      { ...query('directory.list', {}), headers: { ...token(), 'content-type': 'application/json; charset=utf-8' } },
      'lean',
    );
    await expectSame(
      { ...mutation('directory.create', { name: '仓库三' }), headers: { ...token(), 'content-type': 'Application/JSON; charset=UTF-8' } },
      'lean',
    );
  });

  it('refusals inside the procedures take the lean path with the same envelope and status', async () => {
    await expectSame(query('auth.me', undefined, {}), 'lean');
    await expectSame(query('auth.me', undefined, { 'x-session-token': 'not a token' }), 'lean');
    await expectSame(query('auth.me', undefined, { 'x-session-token': generateToken() }), 'lean');
    await expectSame(query('goods.scan', { directoryId: otherDir, code: '6901' }), 'lean');
    await expectSame(query('goods.get', { id: goodsId }, token(1)), 'lean');
    await expectSame(query('goods.scan', { directoryId: 'one', code: '' }), 'lean');
    await expectSame(query('goods.scan'), 'lean');
    await expectSame(mutation('goods.stockOut', { directoryId: dir, code: '6901', quantity: 1000 }), 'lean');
    await expectSame(mutation('goods.stockIn', { directoryId: dir, code: '6902 b', quantity: 9, requestId: 'r-1' }), 'lean');
    await expectSame(mutation('goods.update', { id: goodsId }), 'lean');
    await expectSame(mutation('directory.create', { name: '仓库二' }), 'lean');
    await expectSame(mutation('auth.login', { code: '' }, {}), 'lean');
    await expectSame(mutation('goods.stockIn'), 'lean');
    // Undecodable input: not JSON, superjson metadata that does not fit, a batch input that is no object.
    await expectSame({ method: 'GET', url: '/trpc/goods.scan?input=%7Bnot-json', headers: token() }, 'lean');
    await expectSame({ ...mutation('goods.stockIn'), payload: '{"json":' }, 'lean');
    await expectSame(
      {
        method: 'GET',
        url: `/trpc/goods.scan?input=${enc({ json: { directoryId: dir, code: 'a' }, meta: { values: { code: ['bigint'] } } })}`,
        headers: token(),
      },
      'lean',
    );
    await expectSame({ method: 'GET', url: `/trpc/auth.me,auth.me?batch=1&input=${enc([1, 2])}`, headers: token() }, 'lean');
    await expectSame({ method: 'GET', url: '/trpc/auth.me,goods.scan?batch=1&input=%5B', headers: token() }, 'lean');
    // A batch where some calls fail: 207 with one envelope each.
    await expectSame(
      queryBatch(['goods.scan', 'goods.get', 'goods.scan'], [{ directoryId: dir, code: '6901' }, { id: 999_999 }, { directoryId: 'x' }]),
      'lean',
    );
    await expectSame(queryBatch(['auth.me', 'auth.me'], [undefined, undefined], {}), 'lean');
  });

  it('everything else is left to the stock adapter, with its answers', async () => {
    for (const path of ['nope', 'goods', '__proto__', 'toString', 'constructor', 'goods.scan.x', '']) {
      await expectSame({ method: 'GET', url: `/trpc/${path}`, headers: token() }, 'stock');
    }
    // Fastify decodes the path once and tRPC once more: a path still escaped after the first is tRPC's.
    await expectSame(
      { method: 'GET', url: `/trpc/goods%252Escan?input=${enc(ser({ directoryId: dir, code: '6901' }))}`, headers: token() },
      'stock',
    );
    await expectSame(query('goods.stockIn', { directoryId: dir, code: '6901' }), 'stock');
    await expectSame(mutation('goods.scan', { directoryId: dir, code: '6901' }), 'stock');
    await expectSame(
      queryBatch(
        ['goods.scan', 'goods.stockIn'],
        [
          { directoryId: dir, code: '6901' },
          { directoryId: dir, code: '6901' },
        ],
      ),
      'stock',
    );
    await expectSame(queryBatch(['goods.scan', 'nope'], [{ directoryId: dir, code: '6901' }, {}]), 'stock');
    const max = lean.t.config.maxBatchSize;
    await expectSame(queryBatch(Array(max + 1).fill('auth.me'), []), 'stock');
    await expectSame(
      { ...queryBatch(['goods.scan'], [{ directoryId: dir, code: '6901' }]), headers: { ...token(), 'trpc-accept': 'application/jsonl' } },
      'stock',
    );
    await expectSame({ ...queryBatch(['auth.me'], []), headers: { ...token(), accept: 'text/html, application/jsonl' } }, 'stock');
    await expectSame({ ...query('auth.me'), url: `/trpc/auth.me?connectionParams=${enc({ a: '1' })}` }, 'stock');
    await expectSame(
      {
        ...mutation('directory.create', { name: '表单' }),
        headers: { ...token(), 'content-type': 'multipart/form-data; boundary=x' },
        payload: '--x--\r\n',
      },
      'stock',
    );
    await expectSame({ ...query('auth.me'), headers: { ...token(), 'content-type': 'text/plain' } }, 'stock');
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      await expectSame(
        { method, url: '/trpc/auth.me', headers: { ...token(), 'content-type': 'application/json' }, payload: '{}' },
        'stock',
      );
    }
    const head = await lean.t.app.inject({ method: 'HEAD', url: '/trpc/auth.me', headers: token() });
    const stockHead = await stock.t.app.inject({ method: 'HEAD', url: '/trpc/auth.me', headers: token() });
    expect(head.statusCode).toBe(stockHead.statusCode);
  });

  it('random requests get the same answers, and the lean path takes the well-formed ones', async () => {
    const procedures = Object.keys(appRouter._def.procedures).filter((p) => p !== 'auth.login' && p !== 'auth.logout');
    const field = fc.oneof(
      fc.constant(dir),
      fc.constant(otherDir),
      fc.constant(goodsId),
      fc.integer({ min: -2, max: 5 }),
      fc.constantFrom('6901', '6902 b', '', '%', '仓库二', 'r-1', 'stock.in'),
      fc.string({ maxLength: 8 }),
      fc.boolean(),
      fc.constant(null),
    );
    const input = fc.oneof(
      fc.record(
        {
          directoryId: field,
          id: field,
          code: field,
          name: field,
          quantity: field,
          requestId: field,
          search: field,
          type: field,
          limit: field,
          nickname: field,
        },
        { requiredKeys: [] },
      ),
      fc.constant(undefined),
      // Only what a client can send: superjson refuses keys like "prototype" before any request.
      fc.jsonValue({ maxDepth: 2 }).filter((v) => {
        try {
          superjson.serialize(v);
          return true;
        } catch {
          return false;
        }
      }),
    );
    const request = fc.record({
      post: fc.boolean(),
      paths: fc.array(
        fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...procedures) }, { weight: 1, arbitrary: fc.constantFrom('nope', 'goods') }),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      batch: fc.boolean(),
      inputs: fc.array(input, { minLength: 3, maxLength: 3 }),
      asUser: fc.constantFrom<0 | 1>(0, 0, 1),
      raw: fc.option(fc.constantFrom('{', '[]', 'null', '"x"', '{"0":{"json":1}}'), { freq: 8 }),
    });

    let leanCount = 0;
    let total = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        // Mutations of one batch run concurrently, and two writes to one row would race to it, so the
        // servers could rightly differ: random mutation batches hold one call (fixed cases hold more).
        const paths = r.batch && !r.post ? r.paths : r.paths.slice(0, 1);
        const inputs = r.inputs.slice(0, paths.length);
        let req = r.post
          ? r.batch
            ? mutationBatch(paths, inputs, token(r.asUser))
            : mutation(paths[0]!, inputs[0], token(r.asUser))
          : r.batch
            ? queryBatch(paths, inputs, token(r.asUser))
            : query(paths[0]!, inputs[0], token(r.asUser));
        if (r.raw !== null) {
          req = r.post
            ? { ...req, payload: r.raw }
            : { ...req, url: `${req.url.split('?')[0]}?${r.batch ? 'batch=1&' : ''}input=${encodeURIComponent(r.raw)}` };
        }
        const { lean: tookLean } = await both(req);
        total++;
        if (tookLean) leanCount++;
      }),
      { numRuns: 200 },
    );
    // The property is only worth something if both paths were exercised.
    expect(leanCount).toBeGreaterThan(total / 5);
    expect(leanCount).toBeLessThan(total);
  });

  it('leaves both databases in the same state', async () => {
    expect(await snapshot(lean.t.db)).toEqual(await snapshot(stock.t.db));
  });
});
