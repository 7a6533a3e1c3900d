import { initTRPC, TRPCError } from '@trpc/server';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { z, ZodError } from 'zod';
import { lookupSession, type SessionLookup, type SessionUser } from './auth/sessions';
import type { Config } from './config';
import { isDatabaseUnavailable, type Db } from './db/knex';
import { transformer } from './transformer';

export const SESSION_HEADER = 'x-session-token';

/** What every procedure can reach. `user` is filled by `protectedProcedure` only. */
export interface Context {
  db: Db;
  config: Config;
  log: FastifyBaseLogger;
  /** The raw `X-Session-Token` header; never logged or returned. */
  sessionToken: string | null;
  /** The caller's address as Fastify sees it (honours `trustProxy`). */
  ip: string;
  /** Injectable clock, so tests can move time (session expiry) without sleeping. */
  now: () => Date;
}

export interface ContextDeps {
  db: Db;
  config: Config;
  log: FastifyBaseLogger;
  now?: () => Date;
}

function headerValue(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v ? v : null;
}

/** Builds a context outside HTTP: for typed server-side callers in tests and scripts. */
export function createInnerContext(deps: ContextDeps, opts: { sessionToken?: string | null; ip?: string } = {}): Context {
  return {
    db: deps.db,
    config: deps.config,
    log: deps.log,
    now: deps.now ?? (() => new Date()),
    sessionToken: opts.sessionToken ?? null,
    ip: opts.ip ?? '127.0.0.1',
  };
}

/**
 * The session lookup of each HTTP request, shared by every call of a batch: N batched protected
 * calls cost one SELECT, not N. Only contexts made by contextFactory (one per request) are listed;
 * a server-side caller's context lives across calls and must see a logout or an expiry at once.
 */
const requestSessions = new WeakMap<Context, Promise<SessionLookup> | null>();

function sessionOf(ctx: Context, token: string): Promise<SessionLookup> {
  if (!requestSessions.has(ctx)) return lookupSession(ctx.db, token, ctx.now());
  let lookup = requestSessions.get(ctx);
  if (!lookup) {
    lookup = lookupSession(ctx.db, token, ctx.now());
    requestSessions.set(ctx, lookup);
  }
  return lookup;
}

export function contextFactory(deps: ContextDeps) {
  return ({ req }: { req: FastifyRequest }): Context => {
    const ctx = createInnerContext({ ...deps, log: req.log }, { sessionToken: headerValue(req.headers[SESSION_HEADER]), ip: req.ip });
    requestSessions.set(ctx, null);
    return ctx;
  };
}

const t = initTRPC.context<Context>().create({
  // superjson on the wire, with the server's shortcuts (src/transformer.ts).
  transformer,
  errorFormatter({ shape, error, ctx }) {
    const zodError = error.cause instanceof ZodError ? z.flattenError(error.cause) : null;
    const isProduction = ctx?.config.nodeEnv === 'production';
    // A 500 in production says nothing about its cause: no SQL, no stack.
    const hideCause = isProduction && error.code === 'INTERNAL_SERVER_ERROR';
    return {
      ...shape,
      message: hideCause ? 'Internal server error' : shape.message,
      data: {
        ...shape.data,
        stack: isProduction ? undefined : shape.data.stack,
        zodError,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;
/**
 * An unreachable database answers SERVICE_UNAVAILABLE (503), which tells a client to try again
 * shortly, instead of the INTERNAL_SERVER_ERROR kept for bugs.
 */
function serviceUnavailable(cause: unknown): TRPCError {
  // A COMMIT whose connection died (src/db/tx.ts): the change may have been applied. The client's
  // retry with the same requestId gets the first outcome if it was.
  const unknownOutcome = (cause as { code?: string } | undefined)?.code === 'COMMIT_OUTCOME_UNKNOWN';
  const message = unknownOutcome
    ? 'The database connection was lost while committing: the change may or may not have been applied; retry with the same requestId'
    : 'The database is unavailable right now: try again shortly';
  return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message, cause });
}

function withDatabaseAvailability<R extends { ok: boolean; error?: TRPCError }>(result: R): R {
  if (!result.ok && isDatabaseUnavailable(result.error?.cause)) throw serviceUnavailable(result.error?.cause);
  return result;
}

export const publicProcedure = t.procedure.use(async ({ next }) => withDatabaseAvailability(await next()));

const SESSION_REFUSALS = {
  malformed: 'X-Session-Token is malformed: send the token auth.login returned, unchanged',
  unknown: 'Session token is unknown: log in again with auth.login',
  expired: 'Session expired: log in again with auth.login',
  revoked: 'Session was logged out: log in again with auth.login',
} as const;

/**
 * Resolves `X-Session-Token` to the user (one indexed lookup), or refuses with UNAUTHORIZED.
 * It also does publicProcedure's database-availability mapping itself instead of stacking on it:
 * every middleware level costs tRPC four copies of the call's options, on every call.
 */
export const protectedProcedure = t.procedure.use(async ({ ctx, next }) => {
  if (!ctx.sessionToken) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Missing X-Session-Token header: log in with auth.login first' });
  }
  let found: SessionLookup;
  try {
    found = await sessionOf(ctx, ctx.sessionToken);
  } catch (cause) {
    throw isDatabaseUnavailable(cause) ? serviceUnavailable(cause) : cause;
  }
  if (found.status !== 'ok') {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: SESSION_REFUSALS[found.status] });
  }
  // tRPC merges these into ctx.
  return withDatabaseAvailability(await next({ ctx: { user: found.session.user, sessionId: found.session.sessionId } }));
});

export type ProtectedContext = Context & { user: SessionUser; sessionId: number };
