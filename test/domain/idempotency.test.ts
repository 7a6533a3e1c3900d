import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprint, RETENTION_MS } from '../../src/domain/idempotency';
import { useTestApp, type TestUser } from '../helpers/app';
import { countRows, expectInvalid, expectTRPCError, snapshot } from './helpers';

describe('requestId idempotency of stock changes', () => {
  const t = useTestApp();

  async function userWithDirectory(): Promise<TestUser & { dirId: number }> {
    const u = await t.newUser();
    const d = await u.caller.directory.create({ name: 'idem' });
    return { ...u, dirId: d.id };
  }

  it('replays the first stock-in result without applying it again', async () => {
    const u = await userWithDirectory();
    const input = { directoryId: u.dirId, code: 'R1', quantity: 3, requestId: 'req-1' };
    const first = await u.caller.goods.stockIn(input);
    expect(first).toMatchObject({ created: true, goods: { quantity: 3 } });
    const snap = await snapshot(t.db);
    t.advanceClock(5000);
    const again = await u.caller.goods.stockIn(input);
    expect(again).toEqual(first);
    expect(again.goods.createdAt).toBeInstanceOf(Date);
    expect(await snapshot(t.db)).toEqual(snap);
    // Same input written differently (key order, spaces around the code, defaults spelled out).
    expect(await u.caller.goods.stockIn({ requestId: 'req-1', quantity: 3, code: ' R1 ', directoryId: u.dirId })).toEqual(first);
    expect((await u.caller.goods.get({ id: first.goods.id })).quantity).toBe(3);

    // A new requestId applies.
    const next = await u.caller.goods.stockIn({ ...input, requestId: 'req-2' });
    expect(next).toMatchObject({ created: false, goods: { quantity: 6 } });
  });

  it('replays a stock-out, and a first error as the same error', async () => {
    const u = await userWithDirectory();
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'S', quantity: 2 });
    const out = await u.caller.goods.stockOut({ directoryId: u.dirId, code: 'S', requestId: 'out-1' });
    expect(out.goods.quantity).toBe(1);
    expect(await u.caller.goods.stockOut({ directoryId: u.dirId, code: 'S', requestId: 'out-1' })).toEqual(out);
    expect((await u.caller.goods.scan({ directoryId: u.dirId, code: 'S' }))?.quantity).toBe(1);

    const first = await expectTRPCError(
      u.caller.goods.stockOut({ directoryId: u.dirId, code: 'S', quantity: 5, requestId: 'out-2' }),
      'PRECONDITION_FAILED',
    );
    // Even once there is enough stock, the retried request replays its first outcome.
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'S', quantity: 10 });
    const snap = await snapshot(t.db);
    const replayed = await expectTRPCError(
      u.caller.goods.stockOut({ directoryId: u.dirId, code: 'S', quantity: 5, requestId: 'out-2' }),
      'PRECONDITION_FAILED',
    );
    expect(replayed.message).toBe(first.message);
    expect(await snapshot(t.db)).toEqual(snap);
    expect((await u.caller.log.list({ type: 'stock.out' })).items).toHaveLength(1);

    const nf = await expectTRPCError(u.caller.goods.stockOut({ directoryId: u.dirId, code: 'none', requestId: 'out-3' }), 'NOT_FOUND');
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'none' });
    const nf2 = await expectTRPCError(u.caller.goods.stockOut({ directoryId: u.dirId, code: 'none', requestId: 'out-3' }), 'NOT_FOUND');
    expect(nf2.message).toBe(nf.message);
  });

  it('refuses the same requestId with different input or on the other procedure (CONFLICT)', async () => {
    const u = await userWithDirectory();
    await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'C', quantity: 2, requestId: 'same' });
    const snap = await snapshot(t.db);
    await expectTRPCError(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'C', quantity: 3, requestId: 'same' }), 'CONFLICT');
    await expectTRPCError(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'D', quantity: 2, requestId: 'same' }), 'CONFLICT');
    await expectTRPCError(
      u.caller.goods.stockIn({ directoryId: u.dirId, code: 'C', quantity: 2, name: 'renamed', requestId: 'same' }),
      'CONFLICT',
    );
    await expectTRPCError(u.caller.goods.stockOut({ directoryId: u.dirId, code: 'C', quantity: 2, requestId: 'same' }), 'CONFLICT');
    expect(await snapshot(t.db)).toEqual(snap);
  });

  it('keeps requestIds per user', async () => {
    const a = await userWithDirectory();
    const b = await userWithDirectory();
    const ra = await a.caller.goods.stockIn({ directoryId: a.dirId, code: 'U', requestId: 'shared-id' });
    const rb = await b.caller.goods.stockIn({ directoryId: b.dirId, code: 'U', requestId: 'shared-id' });
    expect(rb.goods.id).not.toBe(ra.goods.id);
    expect(rb.created).toBe(true);
    // b's identical replay is b's result; a different input from b conflicts with b's, not a's.
    expect(await b.caller.goods.stockIn({ directoryId: b.dirId, code: 'U', requestId: 'shared-id' })).toEqual(rb);
  });

  it('validates the requestId', async () => {
    const u = await userWithDirectory();
    await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'x', requestId: '' }), 'requestId');
    await expectInvalid(u.caller.goods.stockIn({ directoryId: u.dirId, code: 'x', requestId: 'r'.repeat(65) }), 'requestId');
    const ok = await u.caller.goods.stockIn({ directoryId: u.dirId, code: 'x', requestId: 'r'.repeat(64) });
    expect(ok.created).toBe(true);
  });

  it('remembers a requestId for at least 24 hours, and forgets it after the retention', async () => {
    const u = await userWithDirectory();
    const input = { directoryId: u.dirId, code: 'T', requestId: 'day-old' };
    const first = await u.caller.goods.stockIn(input);
    t.advanceClock(25 * 3600_000);
    // Another request triggers pruning; the day-old one must survive it.
    await u.caller.goods.stockIn({ ...input, requestId: 'trigger-1' });
    expect(await u.caller.goods.stockIn(input)).toEqual(first);
    expect((await u.caller.goods.get({ id: first.goods.id })).quantity).toBe(2);

    t.advanceClock(RETENTION_MS);
    await u.caller.goods.stockIn({ ...input, requestId: 'trigger-2' });
    expect(await countRows(t.db, 'request_results', { user_id: u.userId, request_id: 'day-old' })).toBe(0);
    const applied = await u.caller.goods.stockIn(input);
    expect(applied.goods.quantity).toBe(4);
  });

  it('fingerprints canonically', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe('{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(fingerprint('goods.stockIn', { a: 1, b: 2 })).toBe(fingerprint('goods.stockIn', { b: 2, a: 1 }));
    expect(fingerprint('goods.stockIn', { a: 1 })).not.toBe(fingerprint('goods.stockOut', { a: 1 }));
    expect(fingerprint('goods.stockIn', { a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });
});
