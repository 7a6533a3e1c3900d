import { z } from 'zod';
import { id, pageInput } from '../domain/fields';
import { listLogs, LOG_TYPES } from '../log/entries';
import { protectedProcedure, router } from '../trpc';

export const logRouter = router({
  list: protectedProcedure
    .input(
      z
        .object({ directoryId: id.optional(), goodsId: id.optional(), type: z.enum(LOG_TYPES).optional(), ...pageInput })
        .default({ limit: 20 }),
    )
    .query(({ ctx, input }) => listLogs(ctx.db, ctx.user.id, input)),
});
