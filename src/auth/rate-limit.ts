import { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config';
import type { ErrorReplyOptions } from '../http/errors';
import { ensureRateLimitStores, refuseOverLimit, type RateLimitStoreOptions } from '../http/rate-limit';
import { trpcCall } from '../http/trpc-errors';
import { splitUrl } from '../http/url';

const LOGIN_PATH = 'auth.login';

/**
 * Limits auth.login per client address (config.loginRateLimit): each auth.login in a request,
 * batched or not, counts once. Other procedures are not limited here (the global limit in
 * src/http/rate-limit.ts covers them). Call before the tRPC plugin is registered so the hook
 * covers its routes. The refusal is a tRPC TOO_MANY_REQUESTS envelope, one per path for a batch.
 *
 * With REDIS_URL the count is shared by every node. While Redis is unreachable it is counted on
 * this node instead: a login limit that failed open would let password-guessing-style floods of
 * WeChat codes through, and one that refused would lock everyone out.
 */
export async function registerLoginRateLimit(
  app: FastifyInstance,
  config: Pick<Config, 'loginRateLimit'> & ErrorReplyOptions & RateLimitStoreOptions,
): Promise<void> {
  const stores = await ensureRateLimitStores(app, config);
  const options = {
    max: config.loginRateLimit.max,
    timeWindow: config.loginRateLimit.windowMs,
    keyGenerator: (req: { ip: string }) => `auth.login:${normalizeIP(req.ip)}`,
  };
  const shared = stores.shared(options);
  const local = stores.local(options);

  app.addHook('onRequest', async (req, reply) => {
    // Most requests name no login at all: skip parsing their URL. An escaped path (auth%2Elogin)
    // is decoded by trpcCall, as tRPC decodes it, so anything with an escape is parsed too.
    const pathname = splitUrl(req.url).path;
    if (!pathname.includes(LOGIN_PATH) && !pathname.includes('%')) return;
    const logins = trpcCall(req.url)?.paths.filter((p) => p === LOGIN_PATH).length ?? 0;
    for (let i = 0; i < logins; i++) {
      let result: Awaited<ReturnType<typeof shared>>;
      try {
        result = await shared(req);
      } catch (err) {
        stores.storeFailed(req.log, 'login', err);
        result = await local(req);
      }
      if (!result.isAllowed && result.isExceeded) {
        stores.events?.refused('login');
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
