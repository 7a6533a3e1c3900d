import { z } from 'zod';
import { createDirectory, deleteDirectory, getDirectory, listDirectories, renameDirectory } from '../directory/directories';
import { directoryName, id } from '../domain/fields';
import { protectedProcedure, router } from '../trpc';

export const directoryRouter = router({
  list: protectedProcedure.input(z.object({}).optional()).query(({ ctx }) => listDirectories(ctx.db, ctx.user.id)),

  get: protectedProcedure.input(z.object({ id })).query(({ ctx, input }) => getDirectory(ctx.db, ctx.user.id, input.id)),

  create: protectedProcedure
    .input(z.object({ name: directoryName }))
    .mutation(({ ctx, input }) => createDirectory(ctx.db, ctx.user.id, input.name, ctx.now())),

  rename: protectedProcedure
    .input(z.object({ id, name: directoryName }))
    .mutation(({ ctx, input }) => renameDirectory(ctx.db, ctx.user.id, input.id, input.name, ctx.now())),

  delete: protectedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await deleteDirectory(ctx.db, ctx.user.id, input.id, ctx.now());
    return { ok: true as const };
  }),
});
