import { z } from 'zod';
import { MEMBER_ROLES } from '../access/access';
import { createDirectory, deleteDirectory, getDirectory, listDirectories, renameDirectory } from '../directory/directories';
import { leaveDirectory, listMembers, removeMember, setMemberRole, transferOwnership } from '../directory/members';
import { directoryName, id } from '../domain/fields';
import { protectedProcedure, router } from '../trpc';

export const directoryRouter = router({
  list: protectedProcedure.input(z.object({}).optional()).query(({ ctx }) => listDirectories(ctx.db, ctx.user.id)),

  get: protectedProcedure.input(z.object({ id })).query(({ ctx, input }) => getDirectory(ctx.db, ctx.user.id, input.id)),

  create: protectedProcedure
    .input(z.object({ name: directoryName }))
    .mutation(({ ctx, input }) => createDirectory(ctx.db, ctx.user, input.name, ctx.now())),

  rename: protectedProcedure
    .input(z.object({ id, name: directoryName }))
    .mutation(({ ctx, input }) => renameDirectory(ctx.db, ctx.user, input.id, input.name, ctx.now())),

  delete: protectedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await deleteDirectory(ctx.db, ctx.user, input.id, ctx.now());
    return { ok: true as const };
  }),

  members: protectedProcedure
    .input(z.object({ directoryId: id }))
    .query(({ ctx, input }) => listMembers(ctx.db, ctx.user.id, input.directoryId)),

  setRole: protectedProcedure
    .input(z.object({ directoryId: id, userId: id, role: z.enum(MEMBER_ROLES) }))
    .mutation(({ ctx, input }) => setMemberRole(ctx.db, ctx.user, input.directoryId, input.userId, input.role, ctx.now())),

  removeMember: protectedProcedure.input(z.object({ directoryId: id, userId: id })).mutation(async ({ ctx, input }) => {
    await removeMember(ctx.db, ctx.user, input.directoryId, input.userId, ctx.now());
    return { ok: true as const };
  }),

  leave: protectedProcedure.input(z.object({ directoryId: id })).mutation(async ({ ctx, input }) => {
    await leaveDirectory(ctx.db, ctx.user, input.directoryId, ctx.now());
    return { ok: true as const };
  }),

  transferOwnership: protectedProcedure
    .input(z.object({ directoryId: id, userId: id }))
    .mutation(({ ctx, input }) => transferOwnership(ctx.db, ctx.user, input.directoryId, input.userId, ctx.now())),
});
