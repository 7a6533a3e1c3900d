import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { login } from '../auth/login';
import { revokeSession } from '../auth/sessions';
import { findUserById, profileColumns } from '../auth/users';
import { protectedProcedure, publicProcedure, router } from '../trpc';

/** Trimmed text of at most `max` characters; blank or null clears the field. */
const clearableText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .nullable()
    .transform((v) => (v ? v : null));

/** Present together or not at all: one is useless without the other. */
function requireBoth(v: { encryptedData?: string; iv?: string }, ctx: z.RefinementCtx): void {
  if ((v.encryptedData === undefined) !== (v.iv === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [v.encryptedData === undefined ? 'encryptedData' : 'iv'],
      message: 'encryptedData and iv come together: send both, or neither',
    });
  }
}

const avatarUrl = z
  .string()
  .trim()
  .max(1024)
  .refine((v) => v === '' || /^https?:\/\/[^\s]+$/i.test(v), 'avatarUrl must be an http(s) URL')
  .nullable()
  .transform((v) => (v ? v : null));

async function currentUser(db: Parameters<typeof findUserById>[0], userId: number) {
  const user = await findUserById(db, userId);
  // Sessions cascade with their user, so this means the account went away mid-request.
  if (!user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'This account no longer exists: log in again' });
  return user;
}

export const authRouter = router({
  login: publicProcedure
    .input(
      z
        .object({
          // wx.login() codes are short ASCII strings; the cap also keeps `dev-<code>` within the openid column.
          code: z
            .string()
            .trim()
            .min(1, 'code is required: send the code from wx.login()')
            .max(120)
            .regex(/^[\x21-\x7e]+$/, 'code must be the string from wx.login(), unchanged'),
          encryptedData: z.string().min(1).max(16_384).optional(),
          iv: z.string().min(1).max(64).optional(),
        })
        .superRefine(requireBoth),
    )
    .mutation(({ ctx, input }) => login({ db: ctx.db, config: ctx.config, log: ctx.log, now: ctx.now }, input)),

  me: protectedProcedure.query(({ ctx }) => currentUser(ctx.db, ctx.user.id)),

  updateProfile: protectedProcedure
    .input(
      z.object({
        nickname: clearableText(100).optional(),
        avatarUrl: avatarUrl.optional(),
        gender: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
        city: clearableText(100).optional(),
        province: clearableText(100).optional(),
        country: clearableText(100).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const columns = profileColumns(input);
      if (Object.keys(columns).length > 0) {
        await ctx
          .db('users')
          .where({ id: ctx.user.id })
          .update({ ...columns, updated_at: ctx.now() });
      }
      return currentUser(ctx.db, ctx.user.id);
    }),

  logout: protectedProcedure.mutation(async ({ ctx }) => {
    await revokeSession(ctx.db, ctx.sessionId, ctx.now());
    return { ok: true as const };
  }),
});
