import { z } from 'zod';
import * as f from '../domain/fields';
import { idempotent, type IdempotencyKey } from '../domain/idempotency';
import { deleteGoods, getGoods, listGoods, listLowStock, scanGoods, updateGoods } from '../goods/goods';
import { adjustGoods, MAX_QUANTITY, stockIn, stockOut, transferGoods } from '../goods/stock';
import { protectedProcedure, router, type ProtectedContext } from '../trpc';

/** The idempotency key of a stock change, or null when the client sent no requestId. */
export function requestKey(
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
        unit: f.unit.optional(),
        price: f.price.optional(),
        quantity: f.quantity,
        requestId: f.requestId.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.stockIn', input), (trx) => stockIn(trx, ctx.user, input, now));
    }),

  stockOut: protectedProcedure
    .input(z.object({ directoryId: f.id, code: f.code, quantity: f.quantity, requestId: f.requestId.optional() }))
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.stockOut', input), (trx) => stockOut(trx, ctx.user, input, now));
    }),

  list: protectedProcedure
    .input(
      z.object({
        directoryId: f.id,
        search: f.boundedText(0, 255).optional(),
        lowStock: z.boolean().optional(),
        ...f.pageInput,
      }),
    )
    .query(({ ctx, input }) => listGoods(ctx.db, ctx.user.id, input)),

  get: protectedProcedure.input(z.object({ id: f.id })).query(({ ctx, input }) => getGoods(ctx.db, ctx.user.id, input.id)),

  update: protectedProcedure
    .input(
      z
        .object({
          id: f.id,
          name: f.goodsName.optional(),
          remarks: f.remarks.optional(),
          code: f.code.optional(),
          // null (or blank) clears the unit.
          unit: f.unit
            .nullable()
            .transform((v) => v ?? '')
            .optional(),
          price: f.price.nullable().optional(),
          minQuantity: f.minQuantity.nullable().optional(),
        })
        .refine((v) => Object.entries(v).some(([k, value]) => k !== 'id' && value !== undefined), {
          message: 'Nothing to update: give name, remarks, code, unit, price or minQuantity',
        }),
    )
    .mutation(({ ctx, input }) => {
      const { id, ...changes } = input;
      return updateGoods(ctx.db, ctx.user, id, changes, ctx.now());
    }),

  delete: protectedProcedure.input(z.object({ id: f.id })).mutation(async ({ ctx, input }) => {
    await deleteGoods(ctx.db, ctx.user, input.id, ctx.now());
    return { ok: true as const };
  }),

  adjust: protectedProcedure
    .input(
      z.object({
        id: f.id,
        quantity: z.number().int().min(0).max(MAX_QUANTITY),
        reason: f.boundedText(1, 200),
        requestId: f.requestId.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.adjust', input), (trx) => adjustGoods(trx, ctx.user, input, now));
    }),

  transfer: protectedProcedure
    .input(
      z
        .object({
          fromDirectoryId: f.id,
          toDirectoryId: f.id,
          code: f.code,
          quantity: f.quantity,
          requestId: f.requestId.optional(),
        })
        .refine((v) => v.fromDirectoryId !== v.toDirectoryId, {
          message: 'A transfer needs two different warehouses',
          path: ['toDirectoryId'],
        }),
    )
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'goods.transfer', input), (trx) => transferGoods(trx, ctx.user, input, now));
    }),

  lowStock: protectedProcedure
    .input(z.object({ ...f.pageInput }).default({ limit: 20 }))
    .query(({ ctx, input }) => listLowStock(ctx.db, ctx.user.id, input)),
});
