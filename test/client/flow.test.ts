import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../helpers/app';
import type { FakeWechat } from '../helpers/fake-wechat';
import { startPhoneLab, type PhoneLab, type PhoneOptions, postedInputs, rejection, isDate, waitFor, type Phone } from './phone';
import { procedurePaths } from './wx-shim';

/*
 * The whole user flow through the BUILT bundle, loaded in a sandbox that has only `wx`, console,
 * timers and the ECMAScript built-ins, talking real HTTP to the server.
 */
describe('mini-program client (built bundle) against the server', () => {
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

  /** A logged-in phone and its default directory. */
  async function readyPhone(opts: Partial<PhoneOptions> = {}): Promise<Phone & { dirId: number }> {
    const p = await phone(opts);
    const [dir] = await p.client.directory.list.query();
    return { ...p, dirId: dir!.id };
  }

  it('logs in by itself on the first call, then sends the stored token', async () => {
    const { shim, client, token } = await phone();
    const fakeCalls = fake.calls.length;

    const dirs = await client.directory.list.query();

    expect(dirs.map((d) => d.name)).toEqual(['默认']);
    expect(isDate(dirs[0]!.createdAt)).toBe(true);
    expect(shim.logins).toBe(1);
    expect(fake.calls.length - fakeCalls).toBe(1);
    // No token yet: the client logs in before the call instead of collecting a 401 first.
    expect(shim.requests.map((r) => [r.method, procedurePaths(r.url)])).toEqual([
      ['POST', ['auth.login']],
      ['GET', ['directory.list']],
    ]);
    expect(token()).toMatch(/.{20,}/);
    expect(shim.requests[0]!.header['X-Session-Token']).toBeUndefined();
    expect(shim.requests[1]!.header['X-Session-Token']).toBe(token());

    const me = await client.auth.me.query();
    expect(me.id).toBeGreaterThan(0);
    expect(shim.logins).toBe(1);
    expect(shim.requests).toHaveLength(3);
  });

  it('stocks in and out, with a requestId on every stock change', async () => {
    const { shim, client, dirId } = await readyPhone();

    const first = await client.goods.stockIn.mutate({ directoryId: dirId, code: '6901234567892', name: '矿泉水' });
    expect(first.created).toBe(true);
    expect(first.goods).toMatchObject({ directoryId: dirId, code: '6901234567892', name: '矿泉水', quantity: 1 });
    expect(isDate(first.goods.createdAt)).toBe(true);

    const second = await client.goods.stockIn.mutate({ directoryId: dirId, code: '6901234567892', quantity: 4 });
    expect(second).toMatchObject({ created: false, goods: { id: first.goods.id, quantity: 5 } });

    const out = await client.goods.stockOut.mutate({ directoryId: dirId, code: '6901234567892', quantity: 2 });
    expect(out.goods.quantity).toBe(3);

    const scanned = await client.goods.scan.query({ directoryId: dirId, code: '6901234567892' });
    expect(scanned?.quantity).toBe(3);
    expect(await client.goods.scan.query({ directoryId: dirId, code: 'never-scanned' })).toBeNull();

    const ids = [...shim.requestsFor('goods.stockIn'), ...shim.requestsFor('goods.stockOut')].map(
      (r) => postedInputs(r.body)[0]!.requestId,
    );
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]+-[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(3);

    const logs = await client.log.list.query({ goodsId: first.goods.id });
    expect(logs.items.map((l) => [l.type, l.delta, l.quantityAfter])).toEqual([
      ['stock.out', -2, 3],
      ['stock.in', 4, 5],
      ['stock.in', 1, 1],
    ]);
  });

  it('keeps a requestId the caller chose', async () => {
    const { shim, client, dirId } = await readyPhone();
    const a = await client.goods.stockIn.mutate({ directoryId: dirId, code: 'CHOSEN', requestId: 'scan-0001' });
    // The same requestId again is the same scan: answered, not applied twice.
    const b = await client.goods.stockIn.mutate({ directoryId: dirId, code: 'CHOSEN', requestId: 'scan-0001' });
    expect(b.goods.quantity).toBe(1);
    expect(b.goods.id).toBe(a.goods.id);
    expect(shim.requestsFor('goods.stockIn').map((r) => postedInputs(r.body)[0]!.requestId)).toEqual(['scan-0001', 'scan-0001']);
  });

  it('batches calls made in the same tick into one wx.request', async () => {
    const { shim, client, dirId } = await readyPhone();
    await client.goods.stockIn.mutate({ directoryId: dirId, code: 'B-1', quantity: 2 });

    let before = shim.requests.length;
    const [me, dirs, hit, miss, logs] = await Promise.all([
      client.auth.me.query(),
      client.directory.list.query(),
      client.goods.scan.query({ directoryId: dirId, code: 'B-1' }),
      client.goods.scan.query({ directoryId: dirId, code: 'B-missing' }),
      client.log.list.query({ directoryId: dirId }),
    ]);
    expect(shim.requests.length - before).toBe(1);
    const batch = shim.requests.at(-1)!;
    expect(batch.method).toBe('GET');
    expect(procedurePaths(batch.url)).toEqual(['auth.me', 'directory.list', 'goods.scan', 'goods.scan', 'log.list']);
    expect(batch.url).toContain('batch=1');
    expect(me.id).toBeGreaterThan(0);
    expect(dirs[0]!.id).toBe(dirId);
    expect(hit?.quantity).toBe(2);
    expect(miss).toBeNull();
    expect(logs.items[0]!.type).toBe('stock.in');

    before = shim.requests.length;
    const created = await Promise.all(
      ['B-2', 'B-3', 'B-4'].map((code) => client.goods.stockIn.mutate({ directoryId: dirId, code, quantity: 3 })),
    );
    expect(shim.requests.length - before).toBe(1);
    const post = shim.requests.at(-1)!;
    expect(post.method).toBe('POST');
    expect(procedurePaths(post.url)).toEqual(['goods.stockIn', 'goods.stockIn', 'goods.stockIn']);
    expect(postedInputs(post.body).map((i) => i.code)).toEqual(['B-2', 'B-3', 'B-4']);
    expect(created.map((c) => [c.goods.code, c.goods.quantity, c.created])).toEqual([
      ['B-2', 3, true],
      ['B-3', 3, true],
      ['B-4', 3, true],
    ]);
  });

  it('splits a batch by maxBatchSize and by maxURLLength', async () => {
    const bySize = await readyPhone({ client: { maxBatchSize: 2 } });
    let before = bySize.shim.requests.length;
    const dirs = await Promise.all(Array.from({ length: 5 }, () => bySize.client.directory.list.query()));
    expect(dirs.every((d) => d[0]!.id === bySize.dirId)).toBe(true);
    expect(bySize.shim.requests.slice(before).map((r) => procedurePaths(r.url).length)).toEqual([2, 2, 1]);

    const byLength = await readyPhone({ client: { maxURLLength: 350 } });
    const codes = ['L', 'M', 'N', 'O'].map((c) => c.repeat(100));
    await Promise.all(codes.map((code) => byLength.client.goods.stockIn.mutate({ directoryId: byLength.dirId, code })));
    before = byLength.shim.requests.length;
    const scans = await Promise.all(codes.map((code) => byLength.client.goods.scan.query({ directoryId: byLength.dirId, code })));
    expect(scans.map((g) => [g?.code, g?.quantity])).toEqual(codes.map((c) => [c, 1]));
    const sent = byLength.shim.requests.slice(before);
    // One 100-character code fits in 350 characters of URL, two do not.
    expect(sent.length).toBe(4);
    for (const r of sent) expect(r.url.length).toBeLessThanOrEqual(350);
  });

  it('turns the server refusing an oversized batch into an error for every call in it', async () => {
    const { shim, client } = await readyPhone({ client: { maxBatchSize: 100, maxURLLength: 100_000 } });
    const before = shim.requests.length;
    const results = await Promise.allSettled(Array.from({ length: t.config.maxBatchSize + 1 }, () => client.auth.me.query()));
    expect(shim.requests.length - before).toBe(1);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason;
      expect(err.name).toBe('TRPCClientError');
      expect(err.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    }
  });

  it('aborts the RequestTask of a cancelled call and rejects it', async () => {
    const p = await readyPhone();
    const { shim, client, lib, dirId } = p;
    shim.setLatency(300);

    const ac = new lib.AbortController();
    const before = shim.requests.length;
    const call = client.goods.scan.query({ directoryId: dirId, code: 'X' }, { signal: ac.signal as unknown as AbortSignal });
    await waitFor(() => shim.requests.length === before + 1);
    ac.abort();

    const err = await rejection(call);
    expect(err).toBeInstanceOf(lib.TRPCClientError);
    expect((err.cause as Error).name).toBe('AbortError');
    expect(shim.abortedTasks).toBe(1);
    expect(shim.requests.at(-1)!.outcome).toBe('aborted');

    // In a batch, the request goes on while any call in it still wants the answer.
    const one = new lib.AbortController();
    const two = new lib.AbortController();
    const kept = client.goods.scan.query({ directoryId: dirId, code: 'K' }, { signal: one.signal as unknown as AbortSignal });
    const dropped = client.directory.list.query(undefined, { signal: two.signal as unknown as AbortSignal });
    await waitFor(() => shim.requests.length === before + 2);
    two.abort();
    expect((await rejection(dropped)).cause).toMatchObject({ name: 'AbortError' });
    expect(await kept).toBeNull();
    expect(shim.abortedTasks).toBe(1);
    expect(shim.requests.at(-1)!.outcome).toBe('success');

    // Every call in the batch cancelled: the request itself is aborted.
    const a = new lib.AbortController();
    const b = new lib.AbortController();
    const c1 = client.goods.scan.query({ directoryId: dirId, code: 'A' }, { signal: a.signal as unknown as AbortSignal });
    const c2 = client.goods.scan.query({ directoryId: dirId, code: 'B' }, { signal: b.signal as unknown as AbortSignal });
    await waitFor(() => shim.requests.length === before + 3);
    expect(procedurePaths(shim.requests.at(-1)!.url)).toHaveLength(2);
    a.abort();
    b.abort();
    await rejection(c1);
    await rejection(c2);
    expect(shim.abortedTasks).toBe(2);
    expect(shim.requests.at(-1)!.outcome).toBe('aborted');

    // Cancelled before the batch left: no request at all.
    shim.setLatency(0);
    const early = new lib.AbortController();
    const c3 = client.goods.scan.query({ directoryId: dirId, code: 'E' }, { signal: early.signal as unknown as AbortSignal });
    early.abort();
    await rejection(c3);
    await new Promise((r) => setTimeout(r, 30));
    expect(shim.requests.length).toBe(before + 3);
  });

  it('retries a stock change whose response was lost without counting it twice', async () => {
    const { shim, client, dirId } = await readyPhone();
    const before = shim.requests.length;
    shim.injectFailure({ match: (r) => procedurePaths(r.url).includes('goods.stockIn'), mode: 'after-response' });

    const res = await client.goods.stockIn.mutate({ directoryId: dirId, code: 'NET-1', quantity: 7 });

    const sent = shim.requests.slice(before);
    expect(sent.map((r) => r.outcome)).toEqual(['dropped', 'success']);
    // The server did apply the first attempt: only the answer was lost.
    expect(sent[0]!.statusCode).toBe(200);
    const [firstInput] = postedInputs(sent[0]!.body);
    const [secondInput] = postedInputs(sent[1]!.body);
    expect(secondInput!.requestId).toBe(firstInput!.requestId);
    expect(sent[1]!.body).toBe(sent[0]!.body);

    expect(res.goods.quantity).toBe(7);
    expect((await client.goods.scan.query({ directoryId: dirId, code: 'NET-1' }))?.quantity).toBe(7);
    const logs = await client.log.list.query({ goodsId: res.goods.id });
    expect(logs.items.map((l) => [l.type, l.delta])).toEqual([['stock.in', 7]]);
    const goods = await t.db('goods').where({ id: res.goods.id }).first();
    expect(Number(goods.quantity)).toBe(7);
  });

  it('retries queries after a network failure, up to `retries` times', async () => {
    const { shim, client, dirId } = await readyPhone();
    const isScan = (r: { url: string }) => procedurePaths(r.url).includes('goods.scan');

    shim.injectFailure({ match: isScan, mode: 'before-send' });
    let before = shim.requests.length;
    expect(await client.goods.scan.query({ directoryId: dirId, code: 'Q' })).toBeNull();
    expect(shim.requests.slice(before).map((r) => r.outcome)).toEqual(['fail', 'success']);

    for (let i = 0; i < 3; i++)
      shim.injectFailure({ match: isScan, mode: 'before-send', errMsg: 'request:fail net::ERR_NAME_NOT_RESOLVED' });
    before = shim.requests.length;
    const err = await rejection(client.goods.scan.query({ directoryId: dirId, code: 'Q' }));
    expect(shim.requests.length - before).toBe(3);
    expect(err.name).toBe('TRPCClientError');
    expect(err.message).toContain('ERR_NAME_NOT_RESOLVED');
    expect(err.cause).toMatchObject({ name: 'WxRequestError', errMsg: 'request:fail net::ERR_NAME_NOT_RESOLVED' });
  });

  it('never re-sends a mutation without a requestId', async () => {
    const { shim, client, lib } = await readyPhone();
    shim.injectFailure({ match: (r) => procedurePaths(r.url).includes('directory.create'), mode: 'before-send' });
    const before = shim.requests.length;
    const err = await rejection(client.directory.create.mutate({ name: '二号仓' }));
    expect(lib.isNetworkError(err)).toBe(true);
    expect(shim.requests.length - before).toBe(1);
    expect((await client.directory.list.query()).map((d) => d.name)).toEqual(['默认']);
  });

  it('gives up on a request that outlives `timeout`', async () => {
    const { shim, client, lib, dirId } = await readyPhone({ client: { timeout: 1000, retries: 0 } });
    shim.setLatency(3000);
    const before = shim.requests.length;
    const err = await rejection(client.goods.scan.query({ directoryId: dirId, code: 'slow' }));
    expect(lib.isNetworkError(err)).toBe(true);
    expect(err.message).toContain('timeout');
    expect(shim.requests.length - before).toBe(1);
  });

  it('delivers every error code typed, with data.code and data.httpStatus', async () => {
    const { client, lib, dirId } = await readyPhone();
    await client.goods.stockIn.mutate({ directoryId: dirId, code: 'E-1', quantity: 2 });

    const badRequest = await rejection(client.goods.stockIn.mutate({ directoryId: dirId, code: 'E-1', quantity: 0 }));
    expect(badRequest).toBeInstanceOf(lib.TRPCClientError);
    expect(badRequest.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, path: 'goods.stockIn' });
    expect(badRequest.data?.zodError?.fieldErrors).toHaveProperty('quantity');

    const notFound = await rejection(client.goods.get.query({ id: 2_000_000_000 }));
    expect(notFound.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
    const unknownCode = await rejection(client.goods.stockOut.mutate({ directoryId: dirId, code: 'E-none' }));
    expect(unknownCode.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });

    const conflict = await rejection(client.directory.create.mutate({ name: '默认' }));
    expect(conflict.data).toMatchObject({ code: 'CONFLICT', httpStatus: 409 });

    const precondition = await rejection(client.goods.stockOut.mutate({ directoryId: dirId, code: 'E-1', quantity: 3 }));
    expect(precondition.data).toMatchObject({ code: 'PRECONDITION_FAILED', httpStatus: 412 });
    expect((await client.goods.scan.query({ directoryId: dirId, code: 'E-1' }))?.quantity).toBe(2);

    const unauthorized = await rejection(client.auth.login.mutate({ code: 'never-issued-code' }));
    expect(unauthorized.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });

    // Mixed outcomes in one batch (HTTP 207): each call gets its own.
    const [ok, missing] = await Promise.allSettled([
      client.directory.get.query({ id: dirId }),
      client.directory.get.query({ id: 2_000_000_000 }),
    ]);
    expect(ok).toMatchObject({ status: 'fulfilled', value: { id: dirId } });
    expect(missing).toMatchObject({ status: 'rejected', reason: { data: { code: 'NOT_FOUND', httpStatus: 404 } } });
  });
});
