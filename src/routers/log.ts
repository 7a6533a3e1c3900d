import { z } from 'zod';
import { id, pageInput } from '../domain/fields';
import { listHistory, HISTORY_TYPES } from '../history/history';
import { protectedProcedure, router } from '../trpc';

export const logRouter = router({
  list: protectedProcedure
    .input(
      z
        .object({
          directoryId: id.optional(),
          goodsId: id.optional(),
          type: z.enum(HISTORY_TYPES).optional(),
          actorId: id.optional(),
          ...pageInput,
        })
        .default({ limit: 20 }),
    )
    .query(({ ctx, input }) => listHistory(ctx.db, ctx.user.id, input)),
});
