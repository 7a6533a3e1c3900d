import { z } from 'zod';
import { id } from '../domain/fields';
import { dailyReport, isTimeZone } from '../report/daily';
import { protectedProcedure, router } from '../trpc';

export const reportRouter = router({
  daily: protectedProcedure
    .input(
      z.object({
        directoryId: id.optional(),
        from: z.date(),
        to: z.date(),
        timeZone: z
          .string()
          .max(64)
          .refine(isTimeZone, { message: 'Must be an IANA time zone such as Asia/Shanghai' })
          .default('Asia/Shanghai'),
      }),
    )
    .query(({ ctx, input }) => dailyReport(ctx.db, ctx.user.id, input)),
});
