import { z } from 'zod';
import { id, timeZone } from '../domain/fields';
import { createExport, DEFAULT_TIME_ZONE } from '../files/export';
import { protectedProcedure, router } from '../trpc';

export const exportRouter = router({
  create: protectedProcedure
    .input(
      z
        .object({
          kind: z.enum(['goods', 'log', 'stocktake']),
          directoryId: id.optional(),
          stocktakeId: id.optional(),
          from: z.date().optional(),
          to: z.date().optional(),
          format: z.enum(['xlsx', 'csv']).default('xlsx'),
          timeZone: timeZone.default(DEFAULT_TIME_ZONE),
        })
        .refine((v) => v.kind !== 'goods' || v.directoryId !== undefined, {
          message: 'A goods export needs directoryId',
          path: ['directoryId'],
        })
        .refine((v) => v.kind !== 'stocktake' || v.stocktakeId !== undefined, {
          message: 'A stocktake export needs stocktakeId',
          path: ['stocktakeId'],
        })
        .refine((v) => !v.from || !v.to || v.from.getTime() <= v.to.getTime(), { message: 'from must not be after to', path: ['to'] }),
    )
    .mutation(({ ctx, input }) => createExport(ctx.db, ctx.user, input, ctx.now())),
});
