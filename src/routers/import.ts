import { z } from 'zod';
import * as f from '../domain/fields';
import { idempotent } from '../domain/idempotency';
import { confirmImport, getImport, IMPORT_ACTIONS, listImportRows } from '../files/import';
import { protectedProcedure, router } from '../trpc';

/* The upload itself is POST /files/imports (src/files/routes.ts): a file does not travel as JSON. */
export const importRouter = router({
  get: protectedProcedure.input(z.object({ importId: f.id })).query(({ ctx, input }) => getImport(ctx.db, ctx.user.id, input.importId)),

  rows: protectedProcedure
    .input(z.object({ importId: f.id, action: z.enum(IMPORT_ACTIONS).optional(), ...f.pageInput }))
    .query(({ ctx, input }) => listImportRows(ctx.db, ctx.user.id, input)),

  confirm: protectedProcedure
    .input(z.object({ importId: f.id, quantityMode: z.enum(['set', 'add']).default('set'), requestId: f.requestId.optional() }))
    .mutation(({ ctx, input }) => {
      const { requestId, ...rest } = input;
      const now = ctx.now();
      const key = requestId === undefined ? null : { userId: ctx.user.id, requestId, procedure: 'import.confirm', input: rest, now };
      return idempotent(ctx.db, key, (tx) => confirmImport(tx, ctx.user, { ...rest, now }));
    }),
});
