import { z } from 'zod';
import { id, timeZone } from '../domain/fields';
import { dailyReport } from '../report/daily';
import { protectedProcedure, router } from '../trpc';

export const reportRouter = router({
  daily: protectedProcedure
    .input(
      z.object({
        directoryId: id.optional(),
        from: z.date(),
        to: z.date(),
        timeZone: timeZone.default('Asia/Shanghai'),
      }),
    )
    .query(({ ctx, input }) => dailyReport(ctx.db, ctx.user.id, input)),
});
