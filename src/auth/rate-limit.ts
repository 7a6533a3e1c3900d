import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config';
import type { ErrorReplyOptions } from '../http/errors';
import { ensureRateLimitPlugin, refuseOverLimit } from '../http/rate-limit';
import { trpcCall } from '../http/trpc-errors';
import { splitUrl } from '../http/url';

const LOGIN_PATH = 'auth.login';

/**
 * Limits auth.login per client address (config.loginRateLimit): each auth.login in a request,
 * batched or not, counts once. Other procedures are not limited here (the global limit in
 * src/http/rate-limit.ts covers them). Call before the tRPC plugin is registered so the hook
 * covers its routes. The refusal is a tRPC TOO_MANY_REQUESTS envelope, one per path for a batch.
 */
export async function registerLoginRateLimit(
  app: FastifyInstance,
  config: Pick<Config, 'loginRateLimit'> & ErrorReplyOptions,
): Promise<void> {
  await ensureRateLimitPlugin(app);
  const limiter = app.createRateLimit({
    max: config.loginRateLimit.max,
    timeWindow: config.loginRateLimit.windowMs,
    keyGenerator: (req) => `auth.login:${normalizeIP(req.ip)}`,
  });

  app.addHook('onRequest', async (req, reply) => {
    // Most requests name no login at all: skip parsing their URL. An escaped path (auth%2Elogin)
    // is decoded by trpcCall, as tRPC decodes it, so anything with an escape is parsed too.
    const pathname = splitUrl(req.url).path;
    if (!pathname.includes(LOGIN_PATH) && !pathname.includes('%')) return;
    const logins = trpcCall(req.url)?.paths.filter((p) => p === LOGIN_PATH).length ?? 0;
    for (let i = 0; i < logins; i++) {
      const result = await limiter(req);
      if (!result.isAllowed && result.isExceeded) {
        return refuseOverLimit(
          req,
          reply,
          config,
          result,
          'login rate limit',
          `Too many login attempts from this address: wait ${result.ttlInSeconds} s before calling auth.login again`,
        );
      }
    }
  });
}
