import { z } from 'zod';
import { MEMBER_ROLES } from '../access/access';
import { id } from '../domain/fields';
import { acceptInvite, createInvite, listInvites, previewInvite, revokeInvite } from '../invites/invites';
import { protectedProcedure, router } from '../trpc';

/** The token as invite.create returned it; anything else is simply an unknown invitation. */
const token = z.string().trim().min(1).max(128);

export const inviteRouter = router({
  create: protectedProcedure
    .input(
      z.object({
        directoryId: id,
        role: z.enum(MEMBER_ROLES),
        maxUses: z.number().int().min(1).max(100).default(1),
        expiresInHours: z.number().int().min(1).max(168).default(24),
      }),
    )
    .mutation(({ ctx, input }) => createInvite(ctx.db, ctx.user, input, ctx.now())),

  list: protectedProcedure
    .input(z.object({ directoryId: id }))
    .query(({ ctx, input }) => listInvites(ctx.db, ctx.user.id, input.directoryId, ctx.now())),

  revoke: protectedProcedure.input(z.object({ id })).mutation(async ({ ctx, input }) => {
    await revokeInvite(ctx.db, ctx.user, input.id, ctx.now());
    return { ok: true as const };
  }),

  preview: protectedProcedure.input(z.object({ token })).query(({ ctx, input }) => previewInvite(ctx.db, input.token, ctx.now())),

  accept: protectedProcedure
    .input(z.object({ token }))
    .mutation(({ ctx, input }) => acceptInvite(ctx.db, ctx.user, input.token, ctx.now())),
});
