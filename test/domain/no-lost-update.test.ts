import { createTRPCClient, httpLink, TRPCClientError, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../../src/routers/_app';
import { useTestApp } from '../helpers/app';

/*
 * The benchmark's row 5 (bench/correctness.ts) as a test, over real HTTP with stock @trpc/client
 * clients: one goods is hammered by concurrent stock-outs (more than it will ever hold) and
 * stock-ins from several devices (sessions) of its owner, while other users stock in their own
 * goods of the same code. Afterwards the database must tell the same story as the answers: every
 * acknowledged change applied exactly once, every refusal (PRECONDITION_FAILED, nothing else)
 * applied nothing, and the history replays step by step to the final quantity, never below zero.
 *
 * concurrency.test.ts covers the other shapes (all stock-outs of one unit, one requestId sent 100
 * times, first stock-ins of a new code, a mixed load that never runs short) through server-side
 * callers; this is the mixed load that runs short, through the HTTP stack, with distinct sessions.
 */

const START = 20;
/** Devices of the owner that only stock out, and those that only stock in (the bench's 2:1). */
const OUT_DEVICES = 4;
const IN_DEVICES = 2;
const OTHER_USERS = 2;
/** Stock-outs of 1–2 units ask for 4 × 45 = 180; START and stock-ins of 1–3 units bring 20 + 2 × 60 = 140. */
const OPS_PER_DEVICE = 30;
/** Requests each device keeps in flight at once. */
const LANES = 4;
const CODE = 'HOT-6900000000001';

type Client = TRPCClient<AppRouter>;
type Kind = 'stock.in' | 'stock.out';

interface Acked {
  kind: Kind;
  quantity: number;
  /** goods.quantity in the answer: the quantity right after this change. */
  after: number;
}

interface LogRow {
  type: string;
  user_id: number;
  delta: number | string | null;
  quantity_after: number | string | null;
}

/** Runs `ops` with `lanes` of them in flight at a time. */
async function inLanes<T>(ops: Array<() => Promise<T>>, lanes: number): Promise<T[]> {
  const results: T[] = new Array(ops.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < ops.length) {
        const i = next++;
        results[i] = await ops[i]!();
      }
    }),
  );
  return results;
}

describe('no lost update: concurrent stock-ins and stock-outs of one goods over HTTP (bench row 5)', () => {
  const t = useTestApp({ poolMax: 20, env: { RATE_LIMIT_MAX: '100000', LOGIN_RATE_LIMIT_MAX: '1000' } });
  let base: string;
  beforeAll(async () => {
    base = await t.listen();
  });

  function client(token?: string): Client {
    return createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${base}/trpc`, transformer: superjson, headers: () => (token ? { 'x-session-token': token } : {}) })],
    });
  }

  /** A device of the user behind the development login `code`: a session of its own. */
  async function device(code: string): Promise<{ api: Client; userId: number }> {
    const { token, user } = await client().auth.login.mutate({ code });
    return { api: client(token), userId: user.id };
  }

  let requestSeq = 0;
  const requestId = () => `row5-${requestSeq++}`;

  it('every acknowledged change applies once, every refusal is PRECONDITION_FAILED and applies nothing', async () => {
    const owner = await Promise.all(Array.from({ length: OUT_DEVICES + IN_DEVICES }, () => device('row5-owner')));
    const ownerId = owner[0]!.userId;
    expect(new Set(owner.map((d) => d.userId))).toEqual(new Set([ownerId]));
    const directoryId = (await owner[0]!.api.directory.create.mutate({ name: 'row 5' })).id;
    const seeded = await owner[0]!.api.goods.stockIn.mutate({ directoryId, code: CODE, quantity: START, requestId: requestId() });
    expect(seeded).toMatchObject({ created: true, goods: { quantity: START } });
    const goodsId = seeded.goods.id;

    const others = await Promise.all(
      Array.from({ length: OTHER_USERS }, async (_, i) => {
        const d = await device(`row5-other-${i}`);
        const [home] = await d.api.directory.list.query();
        return { ...d, directoryId: home!.id };
      }),
    );

    const acked: Acked[] = [];
    const refusals: unknown[] = [];
    const outDevices = owner.slice(0, OUT_DEVICES).map(({ api }) =>
      Array.from({ length: OPS_PER_DEVICE }, (_, i) => async () => {
        const quantity = 1 + (i % 2);
        try {
          const { goods } = await api.goods.stockOut.mutate({ directoryId, code: CODE, quantity, requestId: requestId() });
          acked.push({ kind: 'stock.out', quantity, after: goods.quantity });
        } catch (err) {
          refusals.push(err);
        }
      }),
    );
    const inDevices = owner.slice(OUT_DEVICES).map(({ api }) =>
      Array.from({ length: OPS_PER_DEVICE }, (_, i) => async () => {
        const quantity = 1 + (i % 3);
        const { goods } = await api.goods.stockIn.mutate({ directoryId, code: CODE, quantity, requestId: requestId() });
        acked.push({ kind: 'stock.in', quantity, after: goods.quantity });
      }),
    );
    // Everybody else scans the same code into their own goods meanwhile.
    const background = others.map(({ api, directoryId: own }) =>
      Array.from(
        { length: OPS_PER_DEVICE },
        () => () => api.goods.stockIn.mutate({ directoryId: own, code: CODE, requestId: requestId() }),
      ),
    );
    await Promise.all([...outDevices, ...inDevices, ...background].map((ops) => inLanes<unknown>(ops, LANES)));

    // Refusals: only for want of stock, with the stock-out's own HTTP status.
    for (const err of refusals) {
      expect(err).toBeInstanceOf(TRPCClientError);
      expect((err as TRPCClientError<AppRouter>).data).toMatchObject({ code: 'PRECONDITION_FAILED', httpStatus: 412 });
    }
    const ins = acked.filter((a) => a.kind === 'stock.in');
    const outs = acked.filter((a) => a.kind === 'stock.out');
    expect(ins).toHaveLength(IN_DEVICES * OPS_PER_DEVICE);
    expect(outs.length + refusals.length).toBe(OUT_DEVICES * OPS_PER_DEVICE);
    // The workload did what it is for: the goods ran short (demand exceeds supply), and stock-outs
    // succeeded while it lasted.
    expect(refusals.length).toBeGreaterThan(0);
    expect(outs.length).toBeGreaterThan(0);
    for (const a of acked) expect(a.after).toBeGreaterThanOrEqual(0);

    // The final quantity: the start plus the sum of the acknowledged deltas.
    const sum = (xs: Acked[]) => xs.reduce((n, a) => n + a.quantity, 0);
    const expected = START + sum(ins) - sum(outs);
    expect(expected).toBeGreaterThanOrEqual(0);
    expect((await owner[0]!.api.goods.get.query({ id: goodsId })).quantity).toBe(expected);
    expect(Number((await t.db('goods').where({ id: goodsId }).first()).quantity)).toBe(expected);

    // The history: the seeding stock-in, then exactly one entry per acknowledged change, each with
    // the delta and resulting quantity its answer reported; none for a refusal.
    const logs = (await t.db('logs').where({ goods_id: goodsId }).orderBy('id')) as LogRow[];
    expect(logs.every((l) => Number(l.user_id) === ownerId)).toBe(true);
    const [first, ...changes] = logs.map((l) => ({ type: l.type, delta: Number(l.delta), after: Number(l.quantity_after) }));
    expect(first).toEqual({ type: 'stock.in', delta: START, after: START });
    const entry = (e: { type: string; delta: number; after: number }) => `${e.type} ${e.delta} → ${e.after}`;
    expect(changes.map(entry).sort()).toEqual(
      acked.map((a) => entry({ type: a.kind, delta: a.kind === 'stock.in' ? a.quantity : -a.quantity, after: a.after })).sort(),
    );
    // In id order (rows are written under the goods row lock) it replays step by step, never below
    // zero, to the quantity the goods row holds.
    let q = 0;
    for (const [i, l] of [first!, ...changes].entries()) {
      q += l.delta;
      expect(l.after, `log entry ${i}: ${entry(l)}`).toBe(q);
      expect(q).toBeGreaterThanOrEqual(0);
    }
    expect(q).toBe(expected);
    // One use of the directory per applied change: refusals did not count.
    expect((await owner[0]!.api.directory.get.query({ id: directoryId })).useCount).toBe(1 + acked.length);

    // The other users' goods of the same code got exactly their own stock-ins.
    for (const o of others) {
      expect((await o.api.goods.scan.query({ directoryId: o.directoryId, code: CODE }))?.quantity).toBe(OPS_PER_DEVICE);
      const theirs = (await t.db('logs').where({ user_id: o.userId, type: 'stock.in' })) as LogRow[];
      expect(theirs).toHaveLength(OPS_PER_DEVICE);
    }
  });
});
