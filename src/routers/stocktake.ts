import { z } from 'zod';
import * as f from '../domain/fields';
import { idempotent } from '../domain/idempotency';
import {
  cancelStocktake,
  completeStocktake,
  countStocktake,
  getStocktake,
  listStocktakeLines,
  listStocktakes,
  startStocktake,
} from '../stocktake/stocktakes';
import { protectedProcedure, router } from '../trpc';
import { requestKey } from './goods';

export const stocktakeRouter = router({
  start: protectedProcedure
    .input(z.object({ directoryId: f.id, note: f.boundedText(0, 200).optional() }))
    .mutation(({ ctx, input }) => startStocktake(ctx.db, ctx.user, input, ctx.now())),

  count: protectedProcedure
    .input(
      z.object({
        stocktakeId: f.id,
        code: f.code,
        quantity: z.number().int().min(0).max(f.MAX_STOCK_DELTA).default(1),
        mode: z.enum(['add', 'set']).default('add'),
        requestId: f.requestId.optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'stocktake.count', input), (trx) => countStocktake(trx, ctx.user, input, now));
    }),

  get: protectedProcedure.input(z.object({ id: f.id })).query(({ ctx, input }) => getStocktake(ctx.db, ctx.user.id, input.id)),

  list: protectedProcedure
    .input(z.object({ directoryId: f.id, ...f.pageInput }))
    .query(({ ctx, input }) => listStocktakes(ctx.db, ctx.user.id, input)),

  lines: protectedProcedure
    .input(z.object({ id: f.id, filter: z.enum(['all', 'counted', 'uncounted', 'different']).default('all'), ...f.pageInput }))
    .query(({ ctx, input }) => listStocktakeLines(ctx.db, ctx.user.id, input)),

  complete: protectedProcedure
    .input(z.object({ id: f.id, uncounted: z.enum(['keep', 'zero']).default('keep'), requestId: f.requestId.optional() }))
    .mutation(({ ctx, input }) => {
      const now = ctx.now();
      return idempotent(ctx.db, requestKey(ctx, 'stocktake.complete', input), (trx) => completeStocktake(trx, ctx.user, input, now));
    }),

  cancel: protectedProcedure
    .input(z.object({ id: f.id }))
    .mutation(({ ctx, input }) => cancelStocktake(ctx.db, ctx.user, input.id, ctx.now())),
});
