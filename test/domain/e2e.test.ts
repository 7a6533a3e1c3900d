import { createTRPCClient, httpBatchLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../../src/routers/_app';
import { useTestApp } from '../helpers/app';
import { startFakeWechat, type FakeWechat } from '../helpers/fake-wechat';

/** The old system's day, end to end over real HTTP with a stock @trpc/client. */
describe('end to end over HTTP with @trpc/client', () => {
  let wx: FakeWechat;
  const t = useTestApp(async (onClose) => {
    wx = await startFakeWechat();
    onClose(() => wx.close());
    return { wechat: wx };
  });
  let url: string;
  beforeAll(async () => {
    url = `${await t.listen()}/trpc`;
  });

  function client(getToken: () => string | null): TRPCClient<AppRouter> {
    return createTRPCClient<AppRouter>({
      links: [
        httpBatchLink({
          url,
          transformer: superjson,
          headers: () => {
            const token = getToken();
            return token ? { 'X-Session-Token': token } : {};
          },
        }),
      ],
    });
  }

  async function expectClientError(promise: Promise<unknown>, code: string): Promise<TRPCClientError<AppRouter>> {
    const err = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TRPCClientError);
    const clientErr = err as TRPCClientError<AppRouter>;
    expect(clientErr.data?.code).toBe(code);
    return clientErr;
  }

  it('login, build a warehouse, scan in twice, scan out, run out of stock, list everything', async () => {
    let token: string | null = null;
    const api = client(() => token);

    await expectClientError(api.directory.list.query({}), 'UNAUTHORIZED');

    const issued = wx.issueCode();
    const session = await api.auth.login.mutate({ code: issued.code });
    expect(session.isNew).toBe(true);
    expect(session.expiresAt).toBeInstanceOf(Date);
    token = session.token;

    // Build a warehouse.
    const dir = await api.directory.create.mutate({ name: '门店 🏪' });
    expect(dir).toMatchObject({ name: '门店 🏪', useCount: 0, goodsCount: 0, totalQuantity: 0 });
    expect(dir.createdAt).toBeInstanceOf(Date);

    // Scan a new code: nothing on hand; stock it in: count 1, named after its first 16 characters.
    const code = 'https://example.com/item/6901234567892?batch=七号';
    expect(await api.goods.scan.query({ directoryId: dir.id, code })).toBeNull();
    const first = await api.goods.stockIn.mutate({ directoryId: dir.id, code, requestId: 'scan-1' });
    expect(first.created).toBe(true);
    expect(first.goods).toMatchObject({ code, name: 'https://example.', quantity: 1 });
    expect(first.goods.lastActiveAt).toBeInstanceOf(Date);

    // A retried request (same requestId) does not count twice; a new scan does.
    expect(await api.goods.stockIn.mutate({ directoryId: dir.id, code, requestId: 'scan-1' })).toEqual(first);
    const second = await api.goods.stockIn.mutate({ directoryId: dir.id, code, requestId: 'scan-2' });
    expect(second).toMatchObject({ created: false, goods: { id: first.goods.id, quantity: 2 } });

    // Scan out.
    const out = await api.goods.stockOut.mutate({ directoryId: dir.id, code, requestId: 'scan-3' });
    expect(out.goods.quantity).toBe(1);

    // Out of stock: a typed PRECONDITION_FAILED with a readable message; nothing changes.
    const err = await expectClientError(api.goods.stockOut.mutate({ directoryId: dir.id, code, quantity: 2 }), 'PRECONDITION_FAILED');
    expect(err.data?.httpStatus).toBe(412);
    expect(err.message).toContain('1 on hand');

    // Bad input arrives as BAD_REQUEST naming the field.
    const bad = await expectClientError(api.directory.create.mutate({ name: '   ' }), 'BAD_REQUEST');
    expect(bad.data?.zodError?.fieldErrors).toHaveProperty('name');

    // List everything, several queries in one HTTP batch.
    const [dirs, goods, history, one] = await Promise.all([
      api.directory.list.query({}),
      api.goods.list.query({ directoryId: dir.id }),
      api.log.list.query({}),
      api.goods.get.query({ id: first.goods.id }),
    ]);
    expect(dirs.map((d) => [d.name, d.useCount, d.goodsCount, d.totalQuantity])).toEqual([
      ['门店 🏪', 3, 1, 1],
      ['默认', 0, 0, 0],
    ]);
    expect(dirs[0]!.lastActiveAt).toBeInstanceOf(Date);
    expect(goods).toEqual({ items: [one], nextCursor: null });
    expect(one.quantity).toBe(1);
    expect(history.items.map((e) => [e.type, e.delta, e.quantityAfter])).toEqual([
      ['stock.out', -1, 1],
      ['stock.in', 1, 2],
      ['stock.in', 1, 1],
      ['directory.create', null, null],
      ['directory.create', null, null],
    ]);
    expect(history.items[0]!.createdAt).toBeInstanceOf(Date);
    expect(history.nextCursor).toBeNull();

    // Logging out ends it.
    await api.auth.logout.mutate();
    await expectClientError(api.goods.list.query({ directoryId: dir.id }), 'UNAUTHORIZED');
  });

  it('another user over HTTP sees NOT_FOUND for the first user’s directory', async () => {
    let tokenA: string | null = null;
    let tokenB: string | null = null;
    const a = client(() => tokenA);
    const b = client(() => tokenB);
    tokenA = (await a.auth.login.mutate({ code: wx.issueCode().code })).token;
    tokenB = (await b.auth.login.mutate({ code: wx.issueCode().code })).token;
    const dir = await a.directory.create.mutate({ name: 'A only' });
    await expectClientError(b.directory.get.query({ id: dir.id }), 'NOT_FOUND');
    await expectClientError(b.goods.stockIn.mutate({ directoryId: dir.id, code: 'x' }), 'NOT_FOUND');
    expect((await a.directory.get.query({ id: dir.id })).goodsCount).toBe(0);
  });
});
