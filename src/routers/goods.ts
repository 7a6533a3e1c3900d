import { z } from 'zod';
import * as f from '../domain/fields';
import { idempotent, type IdempotencyKey } from '../domain/idempotency';
import { deleteGoods, getGoods, listGoods, scanGoods, updateGoods } from '../goods/goods';
import { stockIn, stockOut } from '../goods/stock';
import { protectedProcedure, router, type ProtectedContext } from '../trpc';

/** The idempotency key of a stock change, or null when the client sent no requestId. */
function requestKey(
  ctx: ProtectedContext,
  procedure: string,
  input: { requestId?: string | undefined } & Record<string, unknown>,
): IdempotencyKey | null {
  const { requestId, ...rest } = input;
  if (requestId === undefined) return null;
  return { userId: ctx.user.id, requestId, procedure, input: rest, now: ctx.now() };
}

export const goodsRouter = router({
  scan: protectedProcedure
    .input(z.object({ directoryId: f.id, code: f.code }))
    .query(({ ctx, input }) => scanGoods(ctx.db, ctx.user.id, input.directoryId, input.code)),

  stockIn: protectedProcedure
    .input(
      z.object({
        directoryId: f.id,
        code: f.code,
        // Empty (after trimming) means "not given": the mini-program's form sends blank fields.
        name: f.boundedText(0, 100).optional(),
        remarks: f.remarks.optional(),
        quantity: f.quantity,
        requestId: f.requestId.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.stockIn', input), (trx) => stockIn(trx, ctx.user.id, input, now));
    }),

  stockOut: protectedProcedure
    .input(z.object({ directoryId: f.id, code: f.code, quantity: f.quantity, requestId: f.requestId.optional() }))
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.stockOut', input), (trx) => stockOut(trx, ctx.user.id, input, now));
    }),

  list: protectedProcedure
    .input(
      z.object({
        directoryId: f.id,
        search: f.boundedText(0, 255).optional(),
        ...f.pageInput,
      }),
    )
    .query(({ ctx, input }) => listGoods(ctx.db, ctx.user.id, input)),

  get: protectedProcedure.input(z.object({ id: f.id })).query(({ ctx, input }) => getGoods(ctx.db, ctx.user.id, input.id)),

  update: protectedProcedure
    .input(
      z
        .object({ id: f.id, name: f.goodsName.optional(), remarks: f.remarks.optional(), code: f.code.optional() })
        .refine((v) => v.name !== undefined || v.remarks !== undefined || v.code !== undefined, {
          message: 'Nothing to update: give name, remarks or code',
        }),
    )
    .mutation(({ ctx, input }) => {
      const { id, ...changes } = input;
      return updateGoods(ctx.db, ctx.user.id, id, changes, ctx.now());
    }),

  delete: protectedProcedure.input(z.object({ id: f.id })).mutation(async ({ ctx, input }) => {
    await deleteGoods(ctx.db, ctx.user.id, input.id, ctx.now());
    return { ok: true as const };
  }),
});
